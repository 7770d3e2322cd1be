"""The price file (prices.json, shipped with the package): list prices per region, each with
the page it was read from and the date."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from nami_action.errors import NamiError

PRICE_FILE = "prices.json"


@dataclass(frozen=True)
class Price:
    usd: float
    per: int
    unit: str
    source: str
    read: str
    note: str = ""
    chunk_bytes: int | None = None  # SQS: every chunk of this size is billed as one request
    increment_bytes: int | None = None  # HTTP API: metered in increments of this size

    @property
    def each(self) -> float:
        """The price of one unit (one request, one GB-second, one alarm metric-month)."""
        return self.usd / self.per


@dataclass(frozen=True)
class RegionPrices:
    region: str
    version: int
    read: str
    prices: dict[str, Price]

    def __getitem__(self, key: str) -> Price:
        try:
            return self.prices[key]
        except KeyError:
            raise MissingPrice(
                f"no price for {key} in region {self.region} in nami's price file"
            ) from None


class MissingPrice(NamiError):
    """The region is listed, but not with a price this pipeline needs."""


@cache
def _price_file() -> dict[str, Any]:
    text = resources.files("nami_action.cost").joinpath(PRICE_FILE).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def known_regions() -> list[str]:
    return sorted(_price_file()["regions"])


def prices_for(region: str) -> RegionPrices | None:
    """The prices of `region`, or None when the file has none for it (no guessing)."""
    data = _price_file()
    raw = data["regions"].get(region)
    if raw is None:
        return None
    return RegionPrices(
        region=region,
        version=int(data["version"]),
        read=str(data["read"]),
        prices={key: Price(**value) for key, value in raw.items()},
    )
