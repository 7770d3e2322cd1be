"""`python -m nami_action.github run`: what action.yml calls (same as `nami github run`)."""

from nami_action.cli.github import github

github(prog_name="nami github")
