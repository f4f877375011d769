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

    /// @dev The market's request for quotes (RFQ) on `value` of a holding, open until `deadline`.
    enum RequestStatus {
        None,
        Open,
        Accepted,
        Cancelled
    }

    enum QuoteStatus {
        None,
        Open,
        Accepted,
        Withdrawn
    }

    /// @dev None: not exercised; Unpaid: exercised, the seller could not pay yet; Settled: bought back.
    enum RecourseStatus {
        None,
        Unpaid,
        Settled
    }

    struct QuoteRequest {
        uint256 tokenId;
        address seller;
        uint128 value;
        uint64 deadline;
        bool recourse;
        RequestStatus status;
        bytes32 documentHash;
    }

    struct Quote {
        uint256 requestId;
        address factor;
        uint128 price;
        uint32 rateBps;
        uint32 daysToMaturity;
        QuoteStatus status;
    }

    /// @dev A deal is an accepted offer (deal id = offer id): what recourse needs.
    struct Deal {
        address seller;
        address factor;
        uint128 value;
        uint128 price;
        bool recourse;
        uint256 newTokenId;
        RecourseStatus recourseStatus;
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

    // --- market: open offers ---------------------------------------------------------------------
    /// @dev Emitted right after {OfferCreated} (whose `factor` is zero) for an open offer: any of
    /// `factors` may accept it, or every active factor when the list is empty.
    event OfferOpened(uint256 indexed offerId, address[] factors);

    // --- market: quotes (RFQ) ------------------------------------------------------------------
    event QuotesRequested(
        uint256 indexed requestId,
        uint256 indexed tokenId,
        uint256 indexed certificateId,
        address seller,
        uint256 value,
        uint64 deadline,
        bool recourse,
        bytes32 documentHash
    );
    event QuoteRequestCancelled(uint256 indexed requestId, address indexed seller);
    event QuoteSubmitted(
        uint256 indexed quoteId,
        uint256 indexed requestId,
        address indexed factor,
        uint32 rateBps,
        uint256 price,
        uint32 daysToMaturity
    );
    event QuoteWithdrawn(uint256 indexed quoteId, uint256 indexed requestId, address indexed factor);
    /// @dev Emitted after the deal's {OfferCreated} and {OfferAccepted} (offer `offerId`).
    event QuoteAccepted(uint256 indexed quoteId, uint256 indexed requestId, uint256 indexed offerId);

    // --- market: recourse ----------------------------------------------------------------------
    /// @dev The factor exercised recourse on deal `offerId`; the seller could not pay `amount` (an
    /// unpaid claim, to be settled later by {settleRecourse}); holding `tokenId` stays with the factor.
    event RecourseUnpaid(
        uint256 indexed offerId, uint256 indexed tokenId, address seller, address factor, uint256 value, uint256 amount
    );
    /// @dev The seller bought holding `tokenId` (`value` left on it) back from the factor for `amount`.
    event RecourseSettled(
        uint256 indexed offerId, uint256 indexed tokenId, address seller, address factor, uint256 value, uint256 amount
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
    /// @dev `caller` is not among the factors an open offer was made to.
    error FinancingNotInvited(uint256 offerId, address caller);
    error FinancingUnknownRequest(uint256 requestId);
    error FinancingRequestNotOpen(uint256 requestId, RequestStatus status);
    error FinancingNotRequester(uint256 requestId, address caller, address seller);
    /// @dev Quotes are submitted, withdrawn and accepted strictly before the request's deadline.
    error FinancingDeadlinePassed(uint256 requestId, uint256 deadline, uint256 now_);
    error FinancingUnknownQuote(uint256 quoteId);
    error FinancingQuoteNotOpen(uint256 quoteId, QuoteStatus status);
    error FinancingNotQuoter(uint256 quoteId, address caller, address factor);
    /// @dev Recourse applies to accepted offers (deals) only.
    error FinancingNotDeal(uint256 offerId, OfferStatus status);
    // --- controls: registration (中登网) ----------------------------------------------------------
    /// @dev The factor recorded the hash `ref` of the deal's registration number at the PBOC
    /// Credit Reference Center's movable-property registry (中登网).
    event RegistrationSet(uint256 indexed offerId, address indexed factor, bytes32 ref);

    error FinancingZeroRegistration(uint256 offerId);
    error FinancingRegistrationAlreadySet(uint256 offerId, bytes32 ref);

    error FinancingNoRecourse(uint256 offerId);
    error FinancingRecourseStatus(uint256 offerId, RecourseStatus status);
    /// @dev Recourse needs the certificate marked Overdue (Settlement's rule: maturity + grace passed unpaid).
    error FinancingNotOverdue(uint256 certificateId, uint8 status);
    error FinancingNotParty(uint256 offerId, address caller);

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

    /// @notice Offer a holding, or part, to every active factor (empty `factors`) or to a list;
    /// the first of them to accept ({acceptOffer}) gets it.
    function createOpenOffer(
        uint256 tokenId,
        uint256 value,
        address[] calldata factors,
        uint32 rateBps,
        uint64 expiresAt,
        bool recourse,
        bytes32 documentHash
    ) external returns (uint256 offerId);
    function requestQuotes(uint256 tokenId, uint256 value, uint64 deadline, bool recourse, bytes32 documentHash)
        external
        returns (uint256 requestId);
    function cancelQuoteRequest(uint256 requestId) external;
    function submitQuote(uint256 requestId, uint32 rateBps) external returns (uint256 quoteId);
    function withdrawQuote(uint256 quoteId) external;
    function acceptQuote(uint256 quoteId) external returns (uint256 offerId, uint256 newTokenId);
    function exerciseRecourse(uint256 offerId) external returns (bool paid);
    function settleRecourse(uint256 offerId) external;
    /// @notice The deal's factor records its registration reference (中登网), once.
    function setRegistration(uint256 offerId, bytes32 ref) external;

    function offer(uint256 offerId) external view returns (Offer memory);
    function isInvited(uint256 offerId, address factor) external view returns (bool);
    function quoteRequest(uint256 requestId) external view returns (QuoteRequest memory);
    function quoteRequestCount() external view returns (uint256);
    function quoteOf(uint256 quoteId) external view returns (Quote memory);
    function quoteCount() external view returns (uint256);
    function deal(uint256 offerId) external view returns (Deal memory);
    /// @notice The deal's registration reference (zero until its factor sets it).
    function registration(uint256 offerId) external view returns (bytes32);
    function recourseAmount(uint256 offerId) external view returns (uint256 amount, uint256 value);
    function offerCount() external view returns (uint256);
    function quote(uint256 value, uint32 rateBps, uint256 maturity) external view returns (uint256 price, uint32 daysToMaturity);
}
