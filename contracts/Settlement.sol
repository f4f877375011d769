// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {ICertificateToken} from "./interfaces/ICertificateToken.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {ISettlement} from "./interfaces/ISettlement.sol";
import {ISettlementToken} from "./interfaces/ISettlementToken.sol";

/// @title Settlement
/// @notice Repayment by the debtor and pro-rata redemption by every holder at maturity.
/// Holdings cannot move once matured and redemption starts at maturity, so a holding's value at
/// maturity, u = value + paid so far, is fixed. It is entitled to u x repaid / face (rounded down)
/// in total: the same share for every holder whatever the order or how often it redeems, rounding
/// dust stays for the next repayment, and once fully repaid every holding redeems exactly u.
contract Settlement is ISettlement, ReentrancyGuard {
    IMembership private immutable _membership;
    ICertificateToken private immutable _token;
    ISettlementToken private immutable _currency;

    /// @dev maturity + grace stays far from overflow, and a year past maturity is overdue anyway.
    uint256 public constant MAX_GRACE_PERIOD = 365 days;

    uint256 private _gracePeriod = 30 days;
    mapping(uint256 certificateId => Account) private _accounts;
    /// @dev Currency paid out on each holding so far (= value burned off it).
    mapping(uint256 tokenId => uint256) private _paid;

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

    function account(uint256 certificateId) external view returns (Account memory) {
        return _accounts[certificateId];
    }

    function redeemable(uint256 tokenId) public view returns (uint256) {
        ICertificateToken.Holding memory h = _token.holding(tokenId);
        ICertificateToken.Certificate memory cert = _token.certificate(h.certificateId);
        return _payable(tokenId, h.value, cert.faceValue, _accounts[h.certificateId]);
    }

    /// @notice Currency paid out on holding `tokenId` so far.
    function paid(uint256 tokenId) external view returns (uint256) {
        return _paid[tokenId];
    }

    function gracePeriod() external view returns (uint256) {
        return _gracePeriod;
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
        amount = _payable(tokenId, h.value, cert.faceValue, acct);
        if (amount == 0) revert SettlementNothingToRedeem(tokenId);
        acct.redeemed += uint128(amount);
        _paid[tokenId] += amount;
        _token.redeemValue(tokenId, amount);
        _currency.transfer(h.owner, amount);
        emit Redeemed(h.certificateId, tokenId, h.owner, amount, acct.redeemed);
    }

    /// @dev The entitlement of the holding's value at maturity, less what it was already paid.
    /// Entitlements never exceed their holding's value at maturity and sum to at most `repaid`.
    function _payable(uint256 tokenId, uint256 value, uint256 faceValue, Account storage acct)
        private
        view
        returns (uint256)
    {
        uint256 paidOut = _paid[tokenId];
        return ((value + paidOut) * acct.repaid) / faceValue - paidOut;
    }

    function _requireSettling(uint256 certificateId, ICertificateToken.Status status) private pure {
        if (status != ICertificateToken.Status.Active && status != ICertificateToken.Status.Overdue) {
            revert SettlementWrongStatus(certificateId, uint8(status));
        }
    }
}
