"""Places: offline postcode and location lookup, and the optional place-name search."""
