import os
import unittest

from inventory import Inventory


class LoadTest(unittest.TestCase):
    def test_load_fixture(self):
        inv = Inventory.load(os.path.join("testdata", "stock.json"))
        self.assertEqual(inv.count("apple"), 5)
        self.assertEqual(inv.count("kiwi"), 2)


if __name__ == "__main__":
    unittest.main()
