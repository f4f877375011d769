// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Settlement at maturity (到期兑付/清分).
/// @notice The debtor repays into this contract, in full or in parts. Holders redeem holdings at or
/// after maturity: a holding whose value at maturity was u (its value now plus what it was paid)
/// may take u x repaid / face value in all, less what it was already paid. Every unit paid burns
/// one unit of value, so partial repayments pay out pro rata whatever the order of redemptions
/// and a full repayment redeems every holding exactly.
interface ISettlement {
    struct Account {
        uint128 repaid;
        uint128 redeemed;
    }

    enum EarlyPaymentStatus {
        None,
        Open,
        Accepted,
        Cancelled
    }

    /// @dev The debtor's offer to pay `value` of holding `tokenId` early, at `rateBps` a year.
    struct EarlyPaymentOffer {
        uint256 tokenId;
        address debtor;
        uint128 value;
        uint32 rateBps;
        uint64 expiresAt;
        EarlyPaymentStatus status;
    }

    /// @dev A standing early-payment programme of `debtor`: any holder of its certificates takes
    /// up to `remaining` of face value at `rateBps` a year until it is spent or closed.
    struct Programme {
        address debtor;
        uint32 rateBps;
        bool open;
        uint128 budget;
        uint128 remaining;
    }

    event Repaid(uint256 indexed certificateId, address indexed debtor, uint256 amount, uint256 totalRepaid);
    event Redeemed(
        uint256 indexed certificateId, uint256 indexed tokenId, address indexed holder, uint256 amount, uint256 totalRedeemed
    );
    event GracePeriodSet(uint256 gracePeriodSeconds);

    // --- early payment (dynamic discounting) -----------------------------------------------------
    event EarlyPaymentOffered(
        uint256 indexed offerId,
        uint256 indexed tokenId,
        uint256 indexed certificateId,
        address debtor,
        uint256 value,
        uint32 rateBps,
        uint64 expiresAt
    );
    event EarlyPaymentCancelled(uint256 indexed offerId, address indexed debtor);
    event ProgrammeOpened(uint256 indexed programmeId, address indexed debtor, uint32 rateBps, uint256 budget);
    event ProgrammeClosed(uint256 indexed programmeId, address indexed debtor, uint256 remaining);
    /// @dev `value` of holding `tokenId` was settled early: `price` paid by `debtor` to `holder`,
    /// `daysEarly` days before maturity at `rateBps`; from offer `offerId` or programme
    /// `programmeId` (the other is zero). `totalRepaid` and `totalRedeemed` are the certificate's
    /// account after it: both include value settled early.
    event EarlyPaid(
        uint256 indexed certificateId,
        uint256 indexed tokenId,
        address indexed holder,
        address debtor,
        uint256 value,
        uint256 price,
        uint32 rateBps,
        uint32 daysEarly,
        uint256 offerId,
        uint256 programmeId,
        uint256 totalRepaid,
        uint256 totalRedeemed
    );

    error SettlementUnauthorized(address caller);
    error SettlementZeroAmount();
    error SettlementWrongStatus(uint256 certificateId, uint8 status);
    error SettlementNotDebtor(uint256 certificateId, address caller, address debtor);
    error SettlementOverpayment(uint256 certificateId, uint256 outstanding, uint256 amount);
    error SettlementNotMatured(uint256 certificateId, uint256 maturity, uint256 now_);
    error SettlementNotOverdueYet(uint256 certificateId, uint256 overdueAt, uint256 now_);
    error SettlementFullyRepaid(uint256 certificateId);
    error SettlementNothingToRedeem(uint256 tokenId);
    error SettlementNotHolder(uint256 tokenId, address caller, address owner);
    error SettlementInvalidGracePeriod(uint256 gracePeriodSeconds, uint256 maxGracePeriodSeconds);
    error SettlementInsufficientValue(uint256 tokenId, uint256 available, uint256 requested);
    /// @dev Early payment is before maturity only.
    error SettlementMatured(uint256 certificateId, uint256 maturity, uint256 now_);
    error SettlementInvalidExpiry(uint256 expiresAt, uint256 now_, uint256 maturity);
    error SettlementUnknownEarlyPayment(uint256 offerId);
    error SettlementEarlyPaymentNotOpen(uint256 offerId, EarlyPaymentStatus status);
    error SettlementEarlyPaymentExpired(uint256 offerId, uint256 expiresAt, uint256 now_);
    error SettlementUnknownProgramme(uint256 programmeId);
    error SettlementProgrammeClosed(uint256 programmeId);
    error SettlementNotProgrammeDebtor(uint256 programmeId, address caller, address debtor);
    error SettlementBudgetExceeded(uint256 programmeId, uint256 remaining, uint256 value);
    error SettlementValueTooLarge(uint256 value);

    /// @notice The debtor pays `amount` in; its credit line is released by the same amount.
    function repay(uint256 certificateId, uint256 amount) external;
    /// @notice The holder redeems what is payable on its holding now.
    function redeem(uint256 tokenId) external returns (uint256 amount);
    /// @notice The debtor or the operator pays out many holdings in one transaction.
    function settleBatch(uint256[] calldata tokenIds) external returns (uint256 total);
    /// @notice Anyone may mark a certificate overdue once maturity plus grace has passed unpaid.
    function markOverdue(uint256 certificateId) external;
    function setGracePeriod(uint256 gracePeriodSeconds) external;

    /// @notice The debtor offers to pay `value` of holding `tokenId` before maturity at a discount.
    function offerEarlyPayment(uint256 tokenId, uint256 value, uint32 rateBps, uint64 expiresAt)
        external
        returns (uint256 offerId);
    function cancelEarlyPayment(uint256 offerId) external;
    /// @notice The holder takes the debtor's offer: paid the discounted price now, value burned.
    function acceptEarlyPayment(uint256 offerId) external returns (uint256 price);
    /// @notice The debtor opens a standing programme: rate and budget (face value it settles early).
    function openProgramme(uint32 rateBps, uint256 budget) external returns (uint256 programmeId);
    function closeProgramme(uint256 programmeId) external;
    /// @notice A holder of the programme debtor's certificate takes `value` of a holding.
    function takeProgramme(uint256 programmeId, uint256 tokenId, uint256 value) external returns (uint256 price);

    function account(uint256 certificateId) external view returns (Account memory);
    function earlyPaymentOffer(uint256 offerId) external view returns (EarlyPaymentOffer memory);
    function earlyPaymentOfferCount() external view returns (uint256);
    function programme(uint256 programmeId) external view returns (Programme memory);
    function programmeCount() external view returns (uint256);
    /// @notice Face value of certificate `certificateId` settled early so far.
    function earlyPaid(uint256 certificateId) external view returns (uint256);
    function redeemable(uint256 tokenId) external view returns (uint256);
    function gracePeriod() external view returns (uint256);
}
