"""A tiny stock ledger."""

import json


class OutOfStock(Exception):
    pass


class Inventory:
    def __init__(self):
        self._stock = {}

    def add(self, sku, n):
        if n <= 0:
            raise ValueError("quantity must be positive")
        self._stock[sku] = self._stock.get(sku, 0) + n

    def take(self, sku, n):
        have = self._stock.get(sku, 0)
        if n > have:
            raise OutOfStock(sku)
        self._stock[sku] = have - n

    def count(self, sku):
        return self._stock.get(sku, 0)

    @classmethod
    def load(cls, path):
        inv = cls()
        with open(path) as f:
            for sku, n in json.load(f).items():
                inv.add(sku, n)
        return inv
