// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {ICertificateToken} from "./interfaces/ICertificateToken.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {ISettlement} from "./interfaces/ISettlement.sol";
import {ISettlementToken} from "./interfaces/ISettlementToken.sol";
import {Pricing} from "./Pricing.sol";

/// @title Settlement
/// @notice Repayment by the debtor and pro-rata redemption by every holder at maturity.
/// Holdings cannot move once matured and redemption starts at maturity, so a holding's value at
/// maturity, u = value + paid so far, is fixed. It is entitled to u x repaid / face (rounded down)
/// in total: the same share for every holder whatever the order or how often it redeems, rounding
/// dust stays for the next repayment, and once fully repaid every holding redeems exactly u.
/// Early payment (dynamic discounting): before maturity the debtor pays a holder the discounted
/// price of part of a holding, which is burned. That value counts as repaid and redeemed at
/// once (both totals include it) and leaves the pro-rata pool: a holding is entitled to
/// u x (repaid - early) / (face - early), so repayments only ever pay the value still live.
contract Settlement is ISettlement, ReentrancyGuard {
    IMembership private immutable _membership;
    ICertificateToken private immutable _token;
    ISettlementToken private immutable _currency;

    /// @dev maturity + grace stays far from overflow, and a year past maturity is overdue anyway.
    uint256 public constant MAX_GRACE_PERIOD = 365 days;

    /// @dev The data of one {EarlyPaid} event.
    struct EarlyPayment {
        uint256 certificateId;
        uint256 tokenId;
        address holder;
        address debtor;
        uint256 value;
        uint256 price;
        uint32 rateBps;
        uint32 daysEarly;
        uint256 offerId;
        uint256 programmeId;
    }

    uint256 private _gracePeriod = 30 days;
    mapping(uint256 certificateId => Account) private _accounts;
    /// @dev Currency paid out on each holding so far (= value burned off it).
    mapping(uint256 tokenId => uint256) private _paid;
    /// @dev Face value settled early per certificate (included in its repaid and redeemed).
    mapping(uint256 certificateId => uint256) private _early;
    uint256 private _earlyOfferCount;
    mapping(uint256 offerId => EarlyPaymentOffer) private _earlyOffers;
    uint256 private _programmeCount;
    mapping(uint256 programmeId => Programme) private _programmes;

    constructor(IMembership membership_, ICertificateToken token_, ISettlementToken currency_) {
        _membership = membership_;
        _token = token_;
        _currency = currency_;
    }

    /// @notice Requirements: caller is the certificate's debtor, an active core enterprise; the
    /// certificate is active or overdue; 0 < `amount` <= face value - repaid so far; the debtor
    /// holds `amount`. Emits {Repaid}, {CreditLineChanged} (membership), {Transfer} (currency).
    function repay(uint256 certificateId, uint256 amount) external nonReentrant {
        _membership.requireRole(msg.sender, IMembership.Role.CoreEnterprise);
        ICertificateToken.Certificate memory cert = _token.certificate(certificateId);
        if (cert.debtor != msg.sender) revert SettlementNotDebtor(certificateId, msg.sender, cert.debtor);
        _requireSettling(certificateId, cert.status);
        if (amount == 0) revert SettlementZeroAmount();
        Account storage acct = _accounts[certificateId];
        uint256 outstanding = cert.faceValue - acct.repaid;
        if (outstanding == 0) revert SettlementFullyRepaid(certificateId);
        if (amount > outstanding) revert SettlementOverpayment(certificateId, outstanding, amount);
        acct.repaid += uint128(amount);
        _currency.transferByAgent(msg.sender, address(this), amount);
        _membership.releaseCredit(msg.sender, amount);
        emit Repaid(certificateId, msg.sender, amount, acct.repaid);
    }

    /// @notice Requirements: caller owns the holding; see {_redeem}.
    function redeem(uint256 tokenId) external nonReentrant returns (uint256 amount) {
        ICertificateToken.Holding memory h = _token.holding(tokenId);
        if (h.owner != msg.sender) revert SettlementNotHolder(tokenId, msg.sender, h.owner);
        return _redeem(tokenId, h);
    }

    /// @notice Pay out many holdings in one transaction; all or nothing.
    /// Requirements: caller is the operator or the debtor of every holding's certificate.
    function settleBatch(uint256[] calldata tokenIds) external nonReentrant returns (uint256 total) {
        address operator = _membership.operator();
        for (uint256 i = 0; i < tokenIds.length; ++i) {
            ICertificateToken.Holding memory h = _token.holding(tokenIds[i]);
            if (msg.sender != operator) {
                address debtor = _token.certificate(h.certificateId).debtor;
                if (msg.sender != debtor) revert SettlementNotDebtor(h.certificateId, msg.sender, debtor);
            }
            total += _redeem(tokenIds[i], h);
        }
    }

    /// @notice Requirements: the certificate is active, not fully repaid, and maturity plus the
    /// grace period has passed. Emits {CertificateStatusChanged} (token).
    function markOverdue(uint256 certificateId) external {
        ICertificateToken.Certificate memory cert = _token.certificate(certificateId);
        if (cert.status != ICertificateToken.Status.Active) revert SettlementWrongStatus(certificateId, uint8(cert.status));
        if (_accounts[certificateId].repaid >= cert.faceValue) revert SettlementFullyRepaid(certificateId);
        uint256 overdueAt = cert.maturity + _gracePeriod;
        if (block.timestamp <= overdueAt) revert SettlementNotOverdueYet(certificateId, overdueAt, block.timestamp);
        _token.markOverdue(certificateId);
    }

    /// @notice Requirements: caller is the operator; `gracePeriodSeconds` <= {MAX_GRACE_PERIOD}.
    /// Emits {GracePeriodSet}.
    function setGracePeriod(uint256 gracePeriodSeconds) external {
        if (msg.sender != _membership.operator()) revert SettlementUnauthorized(msg.sender);
        if (gracePeriodSeconds > MAX_GRACE_PERIOD) {
            revert SettlementInvalidGracePeriod(gracePeriodSeconds, MAX_GRACE_PERIOD);
        }
        _gracePeriod = gracePeriodSeconds;
        emit GracePeriodSet(gracePeriodSeconds);
    }

    // --- early payment (dynamic discounting) ----------------------------------------------------

    /// @notice The debtor offers to pay `value` of holding `tokenId` before maturity at `rateBps`
    /// a year; the holder takes it with {acceptEarlyPayment}. Nothing is locked or escrowed: the
    /// debtor pays from its balance when the holder accepts.
    /// Requirements: caller is an active core enterprise, the debtor of the holding's
    /// certificate; the system is not paused; the certificate is active; 0 < `value` <= the
    /// holding's value; now < `expiresAt` <= maturity; the rate is at most 100% a year and the
    /// discount below the value. Emits {EarlyPaymentOffered}.
    function offerEarlyPayment(uint256 tokenId, uint256 value, uint32 rateBps, uint64 expiresAt)
        external
        returns (uint256 offerId)
    {
        _membership.requireRole(msg.sender, IMembership.Role.CoreEnterprise);
        ICertificateToken.Holding memory h = _token.holding(tokenId);
        ICertificateToken.Certificate memory cert = _token.certificate(h.certificateId);
        if (cert.debtor != msg.sender) revert SettlementNotDebtor(h.certificateId, msg.sender, cert.debtor);
        if (cert.status != ICertificateToken.Status.Active) revert SettlementWrongStatus(h.certificateId, uint8(cert.status));
        if (value == 0) revert SettlementZeroAmount();
        if (value > h.value) revert SettlementInsufficientValue(tokenId, h.value, value);
        if (expiresAt <= block.timestamp || expiresAt > cert.maturity) {
            revert SettlementInvalidExpiry(expiresAt, block.timestamp, cert.maturity);
        }
        Pricing.discounted(value, rateBps, cert.maturity, block.timestamp);
        offerId = ++_earlyOfferCount;
        _earlyOffers[offerId] = EarlyPaymentOffer({
            tokenId: tokenId,
            debtor: msg.sender,
            value: uint128(value),
            rateBps: rateBps,
            expiresAt: expiresAt,
            status: EarlyPaymentStatus.Open
        });
        emit EarlyPaymentOffered(offerId, tokenId, h.certificateId, msg.sender, value, rateBps, expiresAt);
    }

    /// @notice Withdraw an early-payment offer. Requirements: caller is its debtor; it is open.
    /// Emits {EarlyPaymentCancelled}.
    function cancelEarlyPayment(uint256 offerId) external {
        EarlyPaymentOffer storage o = _openEarlyOffer(offerId);
        if (msg.sender != o.debtor) revert SettlementUnauthorized(msg.sender);
        o.status = EarlyPaymentStatus.Cancelled;
        emit EarlyPaymentCancelled(offerId, msg.sender);
    }

    /// @notice The holder takes the debtor's offer: see {_payEarly}.
    /// Requirements: caller owns the holding now; the offer is open and not expired.
    function acceptEarlyPayment(uint256 offerId) external nonReentrant returns (uint256 price) {
        EarlyPaymentOffer storage o = _openEarlyOffer(offerId);
        address owner = _token.holding(o.tokenId).owner;
        if (owner != msg.sender) revert SettlementNotHolder(o.tokenId, msg.sender, owner);
        if (block.timestamp >= o.expiresAt) {
            revert SettlementEarlyPaymentExpired(offerId, o.expiresAt, block.timestamp);
        }
        o.status = EarlyPaymentStatus.Accepted;
        return _payEarly(o.tokenId, o.debtor, o.value, o.rateBps, offerId, 0);
    }

    /// @notice Open a standing early-payment programme: holders of the caller's certificates
    /// take it ({takeProgramme}) at `rateBps` a year until `budget` of face value is settled or
    /// the caller closes it. The budget is not escrowed: each take is paid from the debtor's
    /// balance then. Requirements: caller is an active core enterprise; the system is not
    /// paused; 0 < `budget` < 2^128; `rateBps` <= 100% a year. Emits {ProgrammeOpened}.
    function openProgramme(uint32 rateBps, uint256 budget) external returns (uint256 programmeId) {
        _membership.requireRole(msg.sender, IMembership.Role.CoreEnterprise);
        if (budget == 0) revert SettlementZeroAmount();
        if (budget > type(uint128).max) revert SettlementValueTooLarge(budget);
        Pricing.requireRate(rateBps);
        programmeId = ++_programmeCount;
        _programmes[programmeId] = Programme({
            debtor: msg.sender,
            rateBps: rateBps,
            open: true,
            budget: uint128(budget),
            remaining: uint128(budget)
        });
        emit ProgrammeOpened(programmeId, msg.sender, rateBps, budget);
    }

    /// @notice Close a programme. Requirements: caller is its debtor; it is open.
    /// Emits {ProgrammeClosed}.
    function closeProgramme(uint256 programmeId) external {
        Programme storage p = _openProgramme(programmeId);
        if (msg.sender != p.debtor) revert SettlementNotProgrammeDebtor(programmeId, msg.sender, p.debtor);
        p.open = false;
        emit ProgrammeClosed(programmeId, msg.sender, p.remaining);
    }

    /// @notice The holder takes `value` of holding `tokenId` into the programme: see {_payEarly}.
    /// Requirements: the programme is open; caller owns the holding, whose certificate's debtor
    /// is the programme's; `value` <= the budget left.
    function takeProgramme(uint256 programmeId, uint256 tokenId, uint256 value)
        external
        nonReentrant
        returns (uint256 price)
    {
        Programme storage p = _openProgramme(programmeId);
        ICertificateToken.Holding memory h = _token.holding(tokenId);
        if (h.owner != msg.sender) revert SettlementNotHolder(tokenId, msg.sender, h.owner);
        address debtor = _token.certificate(h.certificateId).debtor;
        if (debtor != p.debtor) revert SettlementNotDebtor(h.certificateId, p.debtor, debtor);
        if (value > p.remaining) revert SettlementBudgetExceeded(programmeId, p.remaining, value);
        p.remaining -= uint128(value);
        return _payEarly(tokenId, debtor, value, p.rateBps, 0, programmeId);
    }

    function account(uint256 certificateId) external view returns (Account memory) {
        return _accounts[certificateId];
    }

    function redeemable(uint256 tokenId) public view returns (uint256) {
        ICertificateToken.Holding memory h = _token.holding(tokenId);
        ICertificateToken.Certificate memory cert = _token.certificate(h.certificateId);
        return _payable(tokenId, h.certificateId, h.value, cert.faceValue, _accounts[h.certificateId]);
    }

    /// @notice Currency paid out on holding `tokenId` so far.
    function paid(uint256 tokenId) external view returns (uint256) {
        return _paid[tokenId];
    }

    function gracePeriod() external view returns (uint256) {
        return _gracePeriod;
    }

    function earlyPaymentOffer(uint256 offerId) external view returns (EarlyPaymentOffer memory) {
        if (offerId == 0 || offerId > _earlyOfferCount) revert SettlementUnknownEarlyPayment(offerId);
        return _earlyOffers[offerId];
    }

    function earlyPaymentOfferCount() external view returns (uint256) {
        return _earlyOfferCount;
    }

    function programme(uint256 programmeId) external view returns (Programme memory) {
        if (programmeId == 0 || programmeId > _programmeCount) revert SettlementUnknownProgramme(programmeId);
        return _programmes[programmeId];
    }

    function programmeCount() external view returns (uint256) {
        return _programmeCount;
    }

    function earlyPaid(uint256 certificateId) external view returns (uint256) {
        return _early[certificateId];
    }

    /// @dev The one early-payment path. The holder (the holding's owner) is paid
    /// price = value - floor(value x rate x days early / 360) ({Pricing-discounted}, days counted
    /// up) by the debtor; `value` is burned off the holding, counted repaid, redeemed and early,
    /// and released from the debtor's credit line, as {repay} releases what it repays.
    /// Requirements: the debtor is an active core enterprise; the certificate is active and
    /// before maturity; 0 < `value` <= the holding's value and <= face - repaid; the holding is
    /// not frozen; the system is not paused, the holder is an active supplier or factor, the
    /// debtor holds the price.
    /// Emits {EarlyPaid}, the token's {TransferValue} (and burn events when the holding empties,
    /// {CertificateStatusChanged} when the certificate is all settled), the currency's
    /// {Transfer}, {CreditLineChanged} (membership).
    function _payEarly(uint256 tokenId, address debtor, uint256 value, uint32 rateBps, uint256 offerId, uint256 programmeId)
        private
        returns (uint256 price)
    {
        _membership.requireRole(debtor, IMembership.Role.CoreEnterprise);
        ICertificateToken.Holding memory h = _token.holding(tokenId);
        uint256 certificateId = h.certificateId;
        ICertificateToken.Certificate memory cert = _token.certificate(certificateId);
        if (cert.status != ICertificateToken.Status.Active) revert SettlementWrongStatus(certificateId, uint8(cert.status));
        if (block.timestamp >= cert.maturity) revert SettlementMatured(certificateId, cert.maturity, block.timestamp);
        if (value == 0) revert SettlementZeroAmount();
        if (value > h.value) revert SettlementInsufficientValue(tokenId, h.value, value);
        Account storage acct = _accounts[certificateId];
        uint256 outstanding = cert.faceValue - acct.repaid;
        if (value > outstanding) revert SettlementOverpayment(certificateId, outstanding, value);
        uint32 daysEarly;
        (price, daysEarly) = Pricing.discounted(value, rateBps, cert.maturity, block.timestamp);
        acct.repaid += uint128(value);
        acct.redeemed += uint128(value);
        _early[certificateId] += value;
        _emitEarlyPaid(
            EarlyPayment(certificateId, tokenId, h.owner, debtor, value, price, rateBps, daysEarly, offerId, programmeId),
            acct
        );
        _token.redeemValue(tokenId, value);
        _currency.transferByAgent(debtor, h.owner, price);
        _membership.releaseCredit(debtor, value);
    }

    function _emitEarlyPaid(EarlyPayment memory e, Account storage acct) private {
        emit EarlyPaid(
            e.certificateId,
            e.tokenId,
            e.holder,
            e.debtor,
            e.value,
            e.price,
            e.rateBps,
            e.daysEarly,
            e.offerId,
            e.programmeId,
            acct.repaid,
            acct.redeemed
        );
    }

    function _openEarlyOffer(uint256 offerId) private view returns (EarlyPaymentOffer storage o) {
        o = _earlyOffers[offerId];
        if (o.status == EarlyPaymentStatus.None) revert SettlementUnknownEarlyPayment(offerId);
        if (o.status != EarlyPaymentStatus.Open) revert SettlementEarlyPaymentNotOpen(offerId, o.status);
    }

    function _openProgramme(uint256 programmeId) private view returns (Programme storage p) {
        p = _programmes[programmeId];
        if (p.debtor == address(0)) revert SettlementUnknownProgramme(programmeId);
        if (!p.open) revert SettlementProgrammeClosed(programmeId);
    }

    /// @dev The one redemption path. Requirements: the certificate has matured and is active or
    /// overdue; the holding is not frozen; something is payable; the holder may receive currency.
    /// Emits {Redeemed}, and the token's {TransferValue} (and {Transfer} when it empties).
    function _redeem(uint256 tokenId, ICertificateToken.Holding memory h) private returns (uint256 amount) {
        ICertificateToken.Certificate memory cert = _token.certificate(h.certificateId);
        _requireSettling(h.certificateId, cert.status);
        if (block.timestamp < cert.maturity) {
            revert SettlementNotMatured(h.certificateId, cert.maturity, block.timestamp);
        }
        Account storage acct = _accounts[h.certificateId];
        amount = _payable(tokenId, h.certificateId, h.value, cert.faceValue, acct);
        if (amount == 0) revert SettlementNothingToRedeem(tokenId);
        acct.redeemed += uint128(amount);
        _paid[tokenId] += amount;
        _token.redeemValue(tokenId, amount);
        _currency.transfer(h.owner, amount);
        emit Redeemed(h.certificateId, tokenId, h.owner, amount, acct.redeemed);
    }

    /// @dev The entitlement of the holding's value at maturity, less what it was already paid.
    /// Value settled early (fixed by maturity, since early payment stops there) left the pool:
    /// entitlements never exceed their holding's value at maturity and sum to at most
    /// `repaid - early`, the currency repaid into this contract.
    function _payable(uint256 tokenId, uint256 certificateId, uint256 value, uint256 faceValue, Account storage acct)
        private
        view
        returns (uint256)
    {
        uint256 paidOut = _paid[tokenId];
        uint256 early = _early[certificateId];
        if (faceValue == early) return 0; // all settled early: no holding is left
        return ((value + paidOut) * (acct.repaid - early)) / (faceValue - early) - paidOut;
    }

    function _requireSettling(uint256 certificateId, ICertificateToken.Status status) private pure {
        if (status != ICertificateToken.Status.Active && status != ICertificateToken.Status.Overdue) {
            revert SettlementWrongStatus(certificateId, uint8(status));
        }
    }
}
