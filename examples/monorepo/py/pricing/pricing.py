"""Prices in cents."""


def with_vat(cents, rate=0.2):
    return round(cents * (1 + rate))
