from .prices import with_tax


class Cart:
    def __init__(self):
        self.items = []

    def add(self, name, cents, qty=1):
        if qty < 1:
            raise ValueError("qty must be positive")
        self.items.append((name, cents, qty))

    def total(self):
        return with_tax(sum(c * q for _, c, q in self.items))
