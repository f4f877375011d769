"""Gas targets (assertions on gas used, never on time)."""

from conftest import h32

# ERC-3525 reference implementation: transferFrom(tokenId, address, value) to a new holder,
# solc 0.8.37, optimizer 200 runs, evmVersion paris.
REFERENCE_SPLIT_GAS = 231_929


def test_split_to_a_new_holder_beats_the_reference(world):
    _, root = world.issue(face=100_000_000)
    assert world.token.balanceOf["address"](world.s2) == 0
    tx = world.token.splitTransfer(root, world.s2, 10_000_000, h32(4), {"from": world.s1})
    assert tx.gas_used <= REFERENCE_SPLIT_GAS
    # and on the deeper tiers too
    tx = world.token.splitTransfer(tx.return_value, world.s3, 1_000_000, h32(5), {"from": world.s2})
    assert tx.gas_used <= REFERENCE_SPLIT_GAS


def test_erc3525_split_to_a_new_holder_beats_the_reference(world):
    _, root = world.issue(face=100_000_000)
    tx = world.token.transferFrom["uint256,address,uint256"](root, world.f1, 1_000, {"from": world.s1})
    assert tx.gas_used <= REFERENCE_SPLIT_GAS


def test_financing_delivery_and_payment_within_the_reference_plus_a_payment(world):
    _, root = world.issue(face=100_000_000)
    oid = world.offer(root, 1_000_000)
    tx = world.financing.acceptOffer(oid, {"from": world.f1})
    # a split to a new holder plus an ERC-20 transfer to a new holder
    assert tx.gas_used <= REFERENCE_SPLIT_GAS + 70_000
