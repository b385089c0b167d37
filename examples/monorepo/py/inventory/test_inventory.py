import unittest

from inventory import Inventory, OutOfStock


class InventoryTest(unittest.TestCase):
    def test_add_and_take(self):
        inv = Inventory()
        inv.add("apple", 3)
        inv.take("apple", 2)
        self.assertEqual(inv.count("apple"), 1)

    def test_out_of_stock(self):
        inv = Inventory()
        with self.assertRaises(OutOfStock):
            inv.take("pear", 1)

    def test_rejects_non_positive(self):
        with self.assertRaises(ValueError):
            Inventory().add("apple", 0)


if __name__ == "__main__":
    unittest.main()
