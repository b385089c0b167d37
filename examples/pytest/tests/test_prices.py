import pytest

from shop.prices import discount, with_tax

pytestmark = pytest.mark.unit


def test_with_tax():
    assert with_tax(100) == 120


@pytest.mark.parametrize(
    "percent, want",
    [(0, 100), (50, 50), pytest.param(100, 0, marks=pytest.mark.regression)],
)
def test_discount(percent, want):
    assert discount(100, percent) == want


def test_discount_range():
    with pytest.raises(ValueError):
        discount(100, 101)
