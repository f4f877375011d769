// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {ICertificateToken} from "./interfaces/ICertificateToken.sol";
import {IFinancing} from "./interfaces/IFinancing.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {ISettlementToken} from "./interfaces/ISettlementToken.sol";

/// @title Financing
/// @notice Offers of holdings to factors and their atomic settlement (delivery versus payment):
/// the holding's value moves to the factor and the price to the seller in one transaction, or
/// neither moves.
contract Financing is IFinancing, ReentrancyGuard {
    /// @dev 100% a year; a quote whose discount would reach the whole value is refused too.
    uint32 public constant MAX_RATE_BPS = 10_000;
    uint256 private constant _BPS_DAYS = 10_000 * 360;

    IMembership private immutable _membership;
    ICertificateToken private immutable _token;
    ISettlementToken private immutable _currency;

    uint256 private _offerCount;
    mapping(uint256 offerId => Offer) private _offers;

    constructor(IMembership membership_, ICertificateToken token_, ISettlementToken currency_) {
        _membership = membership_;
        _token = token_;
        _currency = currency_;
    }

    /// @notice Offer `value` of holding `tokenId` to `factor` at `rateBps` a year. The price is
    /// fixed now: value x (1 - rate x days to maturity / 360).
    /// Requirements: caller owns the holding; caller and `factor` are active holders (the factor
    /// with the factor role) and not the same; `documentHash` is not zero; the certificate is
    /// active; 0 < `value` <= the holding's value; now < `expiresAt` <= maturity; the discount is
    /// below the value.
    /// Emits {OfferCreated}.
    function createOffer(
        uint256 tokenId,
        uint256 value,
        address factor,
        uint32 rateBps,
        uint64 expiresAt,
        bool recourse,
        bytes32 documentHash
    ) external returns (uint256 offerId) {
        ICertificateToken.Holding memory h = _token.holding(tokenId);
        if (h.owner != msg.sender) revert FinancingNotHolder(tokenId, msg.sender, h.owner);
        _membership.requireHolders(msg.sender, factor);
        _membership.requireRole(factor, IMembership.Role.Factor);
        if (factor == msg.sender) revert FinancingSelfOffer(tokenId, factor);
        if (documentHash == bytes32(0)) revert FinancingZeroDocumentHash();
        if (value == 0) revert FinancingZeroValue();
        if (value > h.value) revert FinancingInsufficientValue(tokenId, h.value, value);
        ICertificateToken.Certificate memory cert = _token.certificate(h.certificateId);
        if (cert.status != ICertificateToken.Status.Active) {
            revert FinancingCertificateNotActive(h.certificateId, uint8(cert.status));
        }
        if (expiresAt <= block.timestamp || expiresAt > cert.maturity) {
            revert FinancingInvalidExpiry(expiresAt, block.timestamp, cert.maturity);
        }
        (uint256 price, uint32 daysToMaturity) = quote(value, rateBps, cert.maturity);
        Offer memory o = Offer({
            tokenId: tokenId,
            seller: msg.sender,
            factor: factor,
            value: uint128(value),
            price: uint128(price),
            rateBps: rateBps,
            expiresAt: expiresAt,
            recourse: recourse,
            status: OfferStatus.Open,
            documentHash: documentHash
        });
        return _store(o, h.certificateId, daysToMaturity);
    }

    /// @notice Withdraw an open offer. Requirements: caller is its seller. Emits {OfferCancelled}.
    function cancelOffer(uint256 offerId) external {
        Offer storage o = _openOffer(offerId);
        if (msg.sender != o.seller) revert FinancingNotSeller(offerId, msg.sender, o.seller);
        o.status = OfferStatus.Cancelled;
        emit OfferCancelled(offerId, msg.sender);
    }

    /// @notice The factor takes the offer: the value moves to a new holding of the factor and the
    /// price to the seller, atomically.
    /// Requirements: caller is the offer's factor; the offer is open and not expired; the seller
    /// still holds enough movable value; the factor holds the price.
    /// Emits {OfferAccepted}, and the token's and currency's transfer events.
    function acceptOffer(uint256 offerId) external nonReentrant returns (uint256 newTokenId) {
        Offer storage o = _openOffer(offerId);
        if (msg.sender != o.factor) revert FinancingNotFactor(offerId, msg.sender, o.factor);
        if (block.timestamp >= o.expiresAt) revert FinancingOfferExpired(offerId, o.expiresAt, block.timestamp);
        o.status = OfferStatus.Accepted;
        newTokenId = _token.transferByAgent(o.tokenId, o.seller, msg.sender, o.value, o.documentHash);
        _currency.transferByAgent(msg.sender, o.seller, o.price);
        emit OfferAccepted(offerId, o.tokenId, newTokenId, o.seller, msg.sender, o.value, o.price);
    }

    function offer(uint256 offerId) external view returns (Offer memory) {
        if (offerId == 0 || offerId > _offerCount) revert FinancingUnknownOffer(offerId);
        return _offers[offerId];
    }

    function offerCount() external view returns (uint256) {
        return _offerCount;
    }

    /// @notice Price of `value` at `rateBps` a year for the days left to `maturity` (counted up);
    /// the discount is rounded down, in the seller's favour. Requirements: `rateBps` <= 100% a
    /// year; the discount is below `value`.
    function quote(uint256 value, uint32 rateBps, uint256 maturity)
        public
        view
        returns (uint256 price, uint32 daysToMaturity)
    {
        if (rateBps > MAX_RATE_BPS) revert FinancingInvalidRate(rateBps, MAX_RATE_BPS);
        uint256 remaining = maturity > block.timestamp ? maturity - block.timestamp : 0;
        daysToMaturity = uint32((remaining + 1 days - 1) / 1 days);
        uint256 discount = (value * rateBps * daysToMaturity) / _BPS_DAYS;
        if (discount >= value && value != 0) revert FinancingDiscountTooLarge(value, rateBps, daysToMaturity);
        price = value - discount;
    }

    /// @dev Stores a new open offer and emits {OfferCreated}.
    function _store(Offer memory o, uint256 certificateId, uint32 daysToMaturity) private returns (uint256 offerId) {
        offerId = ++_offerCount;
        _offers[offerId] = o;
        emit OfferCreated(
            offerId,
            o.tokenId,
            certificateId,
            o.seller,
            o.factor,
            o.value,
            o.price,
            o.rateBps,
            daysToMaturity,
            o.expiresAt,
            o.recourse,
            o.documentHash
        );
    }

    function _openOffer(uint256 offerId) private view returns (Offer storage o) {
        o = _offers[offerId];
        if (o.status == OfferStatus.None) revert FinancingUnknownOffer(offerId);
        if (o.status != OfferStatus.Open) revert FinancingOfferNotOpen(offerId, o.status);
    }
}
