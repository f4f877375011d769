// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IFinancing} from "./interfaces/IFinancing.sol";

/// @title Pricing: the one place of the platform's price arithmetic.
/// @notice Every path that turns a rate into money uses these functions: financing offers,
/// quotes (RFQ), early payment by the debtor (offers and programmes) and recourse buy-backs.
/// - days are counted up: any part of a day counts as a whole day;
/// - discount = floor(value x rateBps x days / (10000 x 360)), rounded down: in favour of the
///   party that receives the price (the seller, the holder paid early);
/// - a share of an amount is rounded down: floor(amount x part / whole).
library Pricing {
    /// @dev 100% a year; a discount that would reach the whole value is refused too.
    uint32 internal constant MAX_RATE_BPS = 10_000;
    uint256 private constant _BPS_DAYS = 10_000 * 360;

    /// @notice Price of `value` at `rateBps` a year paid at `now_` for `maturity`.
    /// Requirements: `rateBps` <= {MAX_RATE_BPS}; the discount is below `value` (unless zero).
    function discounted(uint256 value, uint32 rateBps, uint256 maturity, uint256 now_)
        internal
        pure
        returns (uint256 price, uint32 daysToMaturity)
    {
        requireRate(rateBps);
        uint256 remaining = maturity > now_ ? maturity - now_ : 0;
        daysToMaturity = uint32((remaining + 1 days - 1) / 1 days);
        uint256 discount = (value * rateBps * daysToMaturity) / _BPS_DAYS;
        if (discount >= value && value != 0) {
            revert IFinancing.FinancingDiscountTooLarge(value, rateBps, daysToMaturity);
        }
        price = value - discount;
    }

    /// @notice floor(`amount` x `part` / `whole`); zero when `whole` is zero.
    function share(uint256 amount, uint256 part, uint256 whole) internal pure returns (uint256) {
        return whole == 0 ? 0 : (amount * part) / whole;
    }

    function requireRate(uint32 rateBps) internal pure {
        if (rateBps > MAX_RATE_BPS) revert IFinancing.FinancingInvalidRate(rateBps, MAX_RATE_BPS);
    }
}
