"""plan: compare what is deployed with what was compiled; decide per pipeline."""
