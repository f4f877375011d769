// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Financing (融资/贴现): a holder sells a holding, or part of it, to a factor at a
/// discount, with delivery versus payment in one transaction.
/// @notice price = value x (1 - rateBps/10000 x days to maturity / 360), fixed when the offer is
/// made (days counted up, discount rounded down).
interface IFinancing {
    enum OfferStatus {
        None,
        Open,
        Accepted,
        Cancelled
    }

    struct Offer {
        uint256 tokenId;
        address seller;
        address factor;
        uint128 value;
        uint128 price;
        uint32 rateBps;
        uint64 expiresAt;
        bool recourse;
        OfferStatus status;
        bytes32 documentHash;
    }

    event OfferCreated(
        uint256 indexed offerId,
        uint256 indexed tokenId,
        uint256 indexed certificateId,
        address seller,
        address factor,
        uint256 value,
        uint256 price,
        uint32 rateBps,
        uint32 daysToMaturity,
        uint64 expiresAt,
        bool recourse,
        bytes32 documentHash
    );
    event OfferCancelled(uint256 indexed offerId, address indexed seller);
    /// @dev The deal: `value` of `tokenId` became `newTokenId` of `factor`; `price` paid to `seller`.
    event OfferAccepted(
        uint256 indexed offerId,
        uint256 indexed tokenId,
        uint256 indexed newTokenId,
        address seller,
        address factor,
        uint256 value,
        uint256 price
    );

    error FinancingUnknownOffer(uint256 offerId);
    error FinancingOfferNotOpen(uint256 offerId, OfferStatus status);
    error FinancingOfferExpired(uint256 offerId, uint256 expiresAt, uint256 now_);
    error FinancingInvalidExpiry(uint256 expiresAt, uint256 now_, uint256 maturity);
    error FinancingInvalidRate(uint256 rateBps, uint256 maxRateBps);
    /// @dev The discount for `daysToMaturity` days at `rateBps` would reach the whole `value`.
    error FinancingDiscountTooLarge(uint256 value, uint256 rateBps, uint256 daysToMaturity);
    error FinancingZeroValue();
    error FinancingNotHolder(uint256 tokenId, address caller, address owner);
    error FinancingInsufficientValue(uint256 tokenId, uint256 available, uint256 requested);
    error FinancingCertificateNotActive(uint256 certificateId, uint8 status);
    error FinancingNotSeller(uint256 offerId, address caller, address seller);
    error FinancingNotFactor(uint256 offerId, address caller, address factor);
    /// @dev A factor offering its own holding to itself: delivery would be a self-transfer.
    error FinancingSelfOffer(uint256 tokenId, address factor);
    /// @dev The deal's trade documents (the factoring contract) must be hashed in the offer.
    error FinancingZeroDocumentHash();

    function createOffer(
        uint256 tokenId,
        uint256 value,
        address factor,
        uint32 rateBps,
        uint64 expiresAt,
        bool recourse,
        bytes32 documentHash
    ) external returns (uint256 offerId);
    function cancelOffer(uint256 offerId) external;
    function acceptOffer(uint256 offerId) external returns (uint256 newTokenId);

    function offer(uint256 offerId) external view returns (Offer memory);
    function offerCount() external view returns (uint256);
    function quote(uint256 value, uint32 rateBps, uint256 maturity) external view returns (uint256 price, uint32 daysToMaturity);
}
