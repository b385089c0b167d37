import pytest


@pytest.mark.smoke
@pytest.mark.unit
def test_total(cart):
    cart.add("apple", 100, qty=2)
    assert cart.total() == 240


@pytest.mark.unit
def test_empty(cart):
    assert cart.total() == 0


@pytest.mark.regression
def test_zero_qty_rejected(cart):
    with pytest.raises(ValueError):
        cart.add("apple", 100, qty=0)
