// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC165, IERC165} from "@openzeppelin/contracts/utils/introspection/ERC165.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {ERC721Utils} from "@openzeppelin/contracts/token/ERC721/utils/ERC721Utils.sol";
import {IERC3525, IERC3525Receiver} from "./interfaces/IERC3525.sol";
import {ICertificateToken} from "./interfaces/ICertificateToken.sol";
import {IMembership} from "./interfaces/IMembership.sol";

/// @title CertificateToken
/// @notice Receivable certificates as ERC-3525 semi-fungible tokens: slot = certificate,
/// token = holding, value = amount (2 decimals, settlement-currency units).
/// @dev Every value flow between holdings is a {TransferValue} event and every holding's birth a
/// {HoldingCreated} event, whichever call moved it (business call, ERC-3525 value transfer or
/// ERC-721 transfer), so lineage is exact. Enumeration is left to the indexer. Receiver hooks
/// run last, after every state write (checks-effects-interactions).
contract CertificateToken is ICertificateToken, ERC165 {
    /// @dev Two storage slots per holding.
    struct HoldingData {
        address owner;
        uint32 tier;
        bool frozen;
        uint56 certificateId;
        uint128 value;
        uint128 parentTokenId;
    }

    /// @dev An invoice of the registry; `certificates` lists those whose backing counts, and
    /// `position` is each one's index in it plus one (so a rejection removes it in O(1)).
    struct InvoiceData {
        uint128 amount;
        uint128 used;
        uint256 closedBy;
        uint256[] certificates;
        mapping(uint256 certificateId => uint256) position;
    }

    /// @dev Bounds the gas of issue, reject and the last redemption.
    uint256 private constant _MAX_INVOICES = 32;

    /// @dev PBOC (effective 2025-06-15): 6 months in principle, 1 year at most.
    uint256 private constant _MAX_TERM_LIMIT = 365 days;

    IMembership private immutable _membership;
    string private _name;
    string private _symbol;
    address private _financing;
    address private _settlement;
    uint256 private _maxTerm = 365 days;
    uint256 private _certificateCount;
    uint256 private _tokenCount;
    bool private _invoicesRequired;
    uint32 private _maxTier;
    uint128 private _minSplitValue;

    mapping(uint256 certificateId => Certificate) private _certificates;
    mapping(uint256 tokenId => HoldingData) private _holdings;
    mapping(address owner => uint256) private _balances;
    mapping(uint256 tokenId => address) private _tokenApprovals;
    mapping(address owner => mapping(address operator => bool)) private _operatorApprovals;
    /// @dev Keyed by the holding's tier too: every whole (ERC-721) transfer raises the tier, so it
    /// voids every value allowance given before it, even when the holding comes back to an owner
    /// who had granted one (keying by owner let such stale allowances revive).
    mapping(uint256 tokenId => mapping(uint32 tier => mapping(address operator => uint256))) private _allowances;
    mapping(bytes32 key => InvoiceData) private _invoices;
    mapping(uint256 certificateId => InvoiceBacking[]) private _backings;

    constructor(IMembership membership_, string memory name_, string memory symbol_) {
        _membership = membership_;
        _name = name_;
        _symbol = symbol_;
    }

    modifier onlyOperator() {
        if (msg.sender != _membership.operator()) revert CertificateUnauthorized(msg.sender);
        _;
    }

    // --- lifecycle --------------------------------------------------------------------------

    /// @notice Issue a certificate to a tier-1 supplier.
    /// Requirements: the operator does not require invoices ({setInvoicesRequired}); caller is an
    /// active core enterprise; `payee` an active supplier; the system
    /// is not paused; 0 < `faceValue` fits the available credit line; `documentHash` is not zero;
    /// `maturity` is in the future and within the maximum term.
    /// Emits {CertificateIssued}, {CreditLineChanged} (membership), and the holding's
    /// {Transfer}, {SlotChanged}, {HoldingCreated}, {TransferValue}.
    function issue(address payee, uint256 faceValue, uint64 maturity, bytes32 documentHash)
        external
        returns (uint256 certificateId, uint256 tokenId)
    {
        if (_invoicesRequired) revert CertificateInvoicesRequired();
        return _issue(payee, faceValue, maturity, documentHash, new InvoiceBacking[](0));
    }

    /// @notice Issue a certificate backed by trade invoices (一票一证): each invoice's total
    /// backed value over every certificate that counts never exceeds its amount.
    /// Requirements: as {issue} (whatever {invoicesRequired}); 1 to 32 invoices, each with a
    /// non-zero key, amount and backed value, no key twice; an invoice already registered has
    /// the same amount and is not closed; each invoice's used value plus `backed` <= its amount;
    /// the backed values add up to `faceValue`.
    /// Emits as {issue}, and {InvoiceBacked} per invoice (after {CertificateIssued}).
    function issueWithInvoices(
        address payee,
        uint256 faceValue,
        uint64 maturity,
        bytes32 documentHash,
        InvoiceBacking[] calldata invoices
    ) external returns (uint256 certificateId, uint256 tokenId) {
        if (invoices.length == 0 || invoices.length > _MAX_INVOICES) {
            revert CertificateTooManyInvoices(invoices.length, _MAX_INVOICES);
        }
        return _issue(payee, faceValue, maturity, documentHash, invoices);
    }

    /// @notice The payee accepts its pending certificate; its holding may move from now on.
    /// Emits {CertificateStatusChanged}.
    function accept(uint256 certificateId) external {
        Certificate storage cert = _pendingForPayee(certificateId);
        cert.status = Status.Active;
        emit CertificateStatusChanged(certificateId, Status.Active);
    }

    /// @notice The payee rejects its pending certificate: the holding burns and the debtor's
    /// credit is released. Requirements: the holding is not frozen (a judicial freeze keeps it).
    /// Emits {CertificateStatusChanged}, {TransferValue}, {SlotChanged} (to slot 0), {Transfer},
    /// {InvoiceReleased} per invoice backing it, {CreditLineChanged} (membership).
    function reject(uint256 certificateId) external {
        Certificate storage cert = _pendingForPayee(certificateId);
        uint256 tokenId = cert.rootTokenId;
        if (_holdings[tokenId].frozen) revert CertificateFrozen(tokenId);
        cert.status = Status.Rejected;
        emit CertificateStatusChanged(certificateId, Status.Rejected);
        _burnValue(tokenId, _holdings[tokenId].value);
        _releaseInvoices(certificateId);
        _membership.releaseCredit(cert.debtor, cert.faceValue);
    }

    /// @notice Split `value` off `fromTokenId` into a new holding of `to`, one tier deeper,
    /// recording the hop's trade documents (拆分/流转).
    /// Requirements: caller owns the holding or is approved for it (a value allowance is spent),
    /// and an approved caller is an active supplier or factor; `documentHash` is not zero; the holding is not
    /// frozen; its certificate is active and not matured; `to` is not the holding's owner; owner
    /// and `to` are active suppliers or factors; the system is not paused;
    /// 0 < `value` <= the holding's value; `value` and a non-zero remainder are at least
    /// {minSplitValue}; the new tier is within {maxTier} (if set).
    /// Emits {Transfer}, {SlotChanged}, {HoldingCreated}, {TransferValue}.
    function splitTransfer(uint256 fromTokenId, address to, uint256 value, bytes32 documentHash)
        external
        returns (uint256 newTokenId)
    {
        _spendAllowance(msg.sender, fromTokenId, value);
        if (documentHash == bytes32(0)) revert CertificateZeroDocumentHash();
        return _split(fromTokenId, to, value, documentHash);
    }

    /// @notice Judicial freeze (司法冻结) of a holding. Requirements: caller is the operator; the
    /// holding exists and is not frozen. Emits {HoldingFrozen}.
    function freeze(uint256 tokenId, bytes32 reasonHash) external onlyOperator {
        _setFrozen(tokenId, true, reasonHash);
    }

    /// @notice Release of a freeze. Emits {HoldingFrozen}.
    function unfreeze(uint256 tokenId, bytes32 reasonHash) external onlyOperator {
        _setFrozen(tokenId, false, reasonHash);
    }

    /// @notice Maximum term from issue to maturity (PBOC: 6 months in principle, 1 year at most).
    /// Emits {MaxTermSet}.
    function setMaxTerm(uint256 maxTermSeconds) external onlyOperator {
        if (maxTermSeconds == 0 || maxTermSeconds > _MAX_TERM_LIMIT) revert CertificateInvalidTerm(maxTermSeconds);
        _maxTerm = maxTermSeconds;
        emit MaxTermSet(maxTermSeconds);
    }

    /// @notice Whether plain {issue} is refused, so every certificate carries its invoices
    /// ({issueWithInvoices}). Default false; true in production once the gateway sends invoices.
    /// Requirements: caller is the operator. Emits {InvoicesRequiredSet}.
    function setInvoicesRequired(bool required) external onlyOperator {
        _invoicesRequired = required;
        emit InvoicesRequiredSet(required);
    }

    /// @notice Deepest tier a split or ERC-721 transfer may create (0, the default: no cap).
    /// Holdings already deeper keep their tier. Requirements: caller is the operator.
    /// Emits {MaxTierSet}.
    function setMaxTier(uint32 maxTier_) external onlyOperator {
        _maxTier = maxTier_;
        emit MaxTierSet(maxTier_);
    }

    /// @notice Smallest value a split may move, and leave behind unless it leaves nothing
    /// (0, the default: no minimum). Requirements: caller is the operator; the value fits 128
    /// bits. Emits {MinSplitValueSet}.
    function setMinSplitValue(uint256 minSplitValue_) external onlyOperator {
        if (minSplitValue_ > type(uint128).max) revert CertificateValueTooLarge(minSplitValue_);
        _minSplitValue = uint128(minSplitValue_);
        emit MinSplitValueSet(minSplitValue_);
    }

    /// @notice Wire the financing and settlement contracts, once: they alone deliver and burn
    /// holdings, so the operator cannot later point them at a wallet of its own.
    /// Requirements: caller is the operator; neither address is zero; the token is not wired yet.
    /// Emits {SystemContractsSet}.
    function setSystemContracts(address financing_, address settlement_) external onlyOperator {
        if (_financing != address(0)) revert CertificateSystemContractsAlreadySet(_financing, _settlement);
        if (financing_ == address(0) || settlement_ == address(0)) revert CertificateZeroAddress();
        _financing = financing_;
        _settlement = settlement_;
        emit SystemContractsSet(financing_, settlement_);
    }

    // --- system contracts -------------------------------------------------------------------

    /// @notice Delivery leg of a financing deal. Requirements: caller is the financing contract;
    /// `seller` owns `fromTokenId`; `documentHash` is not zero; the same checks as {splitTransfer}.
    /// Emits as {splitTransfer}.
    function transferByAgent(uint256 fromTokenId, address seller, address to, uint256 value, bytes32 documentHash)
        external
        returns (uint256 newTokenId)
    {
        if (msg.sender != _financing) revert CertificateUnauthorized(msg.sender);
        address owner = _ownerOf(fromTokenId);
        if (owner != seller) revert CertificateWrongOwner(fromTokenId, seller, owner);
        if (documentHash == bytes32(0)) revert CertificateZeroDocumentHash();
        return _split(fromTokenId, to, value, documentHash);
    }

    /// @notice Burn `value` of a holding paid out at settlement; a holding left empty burns, a
    /// certificate fully redeemed becomes Settled. Requirements: caller is the settlement
    /// contract; the holding is not frozen; its certificate is active or overdue.
    /// Emits {TransferValue}, and {SlotChanged} (to slot 0) with {Transfer} when the holding
    /// empties, {CertificateStatusChanged} and {InvoiceClosed} (per invoice not closed yet) when
    /// the certificate is settled.
    function redeemValue(uint256 tokenId, uint256 value) external returns (address owner) {
        if (msg.sender != _settlement) revert CertificateUnauthorized(msg.sender);
        HoldingData storage h = _holdings[tokenId];
        owner = h.owner;
        if (owner == address(0)) revert CertificateUnknownHolding(tokenId);
        if (h.frozen) revert CertificateFrozen(tokenId);
        uint256 certificateId = h.certificateId; // read before _burnValue may delete the holding
        Certificate storage cert = _certificates[certificateId];
        if (cert.status != Status.Active && cert.status != Status.Overdue) {
            revert CertificateWrongStatus(certificateId, cert.status);
        }
        cert.redeemedValue += uint128(value); // value <= h.value, checked in _burnValue
        _burnValue(tokenId, value);
        if (cert.redeemedValue == cert.faceValue) {
            cert.status = Status.Settled;
            emit CertificateStatusChanged(certificateId, Status.Settled);
            _closeInvoices(certificateId);
        }
    }

    /// @notice Recourse leg of a financing deal: the whole holding `tokenId` returns from the
    /// factor `from` to the seller `to`, after maturity, keeping its id and going one tier deeper.
    /// Requirements: caller is the financing contract; `from` owns the holding; the holding is not
    /// frozen; its certificate is Overdue; `to` is not `from`; both are active suppliers or
    /// factors; the system is not paused. Not subject to {maxTier}: a buy-back must not fail.
    /// Emits {Transfer}, {HoldingTransferred}.
    function recourseTransfer(uint256 tokenId, address from, address to) external {
        if (msg.sender != _financing) revert CertificateUnauthorized(msg.sender);
        HoldingData storage h = _holdings[tokenId];
        address owner = h.owner;
        if (owner == address(0)) revert CertificateUnknownHolding(tokenId);
        if (owner != from) revert CertificateWrongOwner(tokenId, from, owner);
        if (h.frozen) revert CertificateFrozen(tokenId);
        Status status = _certificates[h.certificateId].status;
        if (status != Status.Overdue) revert CertificateWrongStatus(h.certificateId, status);
        _moveWhole(tokenId, h, from, to);
    }

    /// @notice Requirements: caller is the settlement contract; the certificate is active.
    /// Emits {CertificateStatusChanged}.
    function markOverdue(uint256 certificateId) external {
        if (msg.sender != _settlement) revert CertificateUnauthorized(msg.sender);
        Certificate storage cert = _certificate(certificateId);
        if (cert.status != Status.Active) revert CertificateWrongStatus(certificateId, cert.status);
        cert.status = Status.Overdue;
        emit CertificateStatusChanged(certificateId, Status.Overdue);
    }

    // --- ERC-3525 ---------------------------------------------------------------------------

    function valueDecimals() external pure returns (uint8) {
        return 2;
    }

    function balanceOf(uint256 tokenId) external view returns (uint256) {
        _ownerOf(tokenId);
        return _holdings[tokenId].value;
    }

    function slotOf(uint256 tokenId) external view returns (uint256) {
        _ownerOf(tokenId);
        return _holdings[tokenId].certificateId;
    }

    /// @notice Allow `operator` to move up to `value` off `tokenId` (zero clears the allowance).
    /// Requirements: caller is the owner, an operator approved for all of the owner's holdings,
    /// or the holding's ERC-721 approved address (EIP-3525); `operator` is neither zero nor the
    /// owner; a non-zero allowance goes only to a member whose role may spend holdings
    /// (`Membership.requirePermitted`: suppliers and factors). Emits {ApprovalValue}.
    function approve(uint256 tokenId, address operator, uint256 value) external {
        address owner = _ownerOf(tokenId);
        if (operator == address(0)) revert CertificateZeroAddress();
        if (operator == owner) revert CertificateApproveToOwner(tokenId, owner);
        if (!_isApprovedOrOwner(msg.sender, owner, tokenId)) revert CertificateNotOwnerNorApproved(tokenId, msg.sender);
        if (value != 0) _membership.requirePermitted(operator, IMembership.Capability.SpendHoldings);
        _allowances[tokenId][_holdings[tokenId].tier][operator] = value;
        emit ApprovalValue(tokenId, operator, value);
    }

    function allowance(uint256 tokenId, address operator) external view returns (uint256) {
        _ownerOf(tokenId);
        return _allowances[tokenId][_holdings[tokenId].tier][operator];
    }

    /// @notice ERC-3525 split to an address: {splitTransfer} without a document hash (the new
    /// holding's {HoldingCreated} records a zero hash).
    function transferFrom(uint256 fromTokenId, address to, uint256 value) external returns (uint256) {
        _spendAllowance(msg.sender, fromTokenId, value);
        return _split(fromTokenId, to, value, bytes32(0));
    }

    /// @notice ERC-3525 value transfer between two holdings of the same certificate (a merge).
    /// No holding is created and no tier changes, so merging between two holdings of one owner
    /// is allowed.
    /// Requirements: as {splitTransfer}, without the document hash; `toTokenId` exists, is not
    /// frozen and is another holding of the same certificate. Emits {TransferValue}.
    function transferFrom(uint256 fromTokenId, uint256 toTokenId, uint256 value) external {
        _spendAllowance(msg.sender, fromTokenId, value);
        if (fromTokenId == toTokenId) revert CertificateSameToken(fromTokenId);
        HoldingData storage from = _holdings[fromTokenId];
        HoldingData storage to = _holdings[toTokenId];
        if (to.owner == address(0)) revert CertificateUnknownHolding(toTokenId);
        if (from.certificateId != to.certificateId) revert CertificateSlotMismatch(fromTokenId, toTokenId);
        if (to.frozen) revert CertificateFrozen(toTokenId);
        _requireMovable(fromTokenId, from);
        _membership.requireHolders(from.owner, to.owner);
        if (value == 0) revert CertificateZeroValue();
        if (value > from.value) revert CertificateInsufficientValue(fromTokenId, from.value, value);
        from.value -= uint128(value);
        to.value += uint128(value);
        emit TransferValue(fromTokenId, toTokenId, value);
        _checkOnERC3525Received(fromTokenId, toTokenId, value, to.owner);
    }

    // --- ERC-721 ----------------------------------------------------------------------------

    function name() external view returns (string memory) {
        return _name;
    }

    function symbol() external view returns (string memory) {
        return _symbol;
    }

    function balanceOf(address owner) external view returns (uint256) {
        if (owner == address(0)) revert CertificateZeroAddress();
        return _balances[owner];
    }

    function ownerOf(uint256 tokenId) external view returns (address) {
        return _ownerOf(tokenId);
    }

    /// @notice ERC-721 transfer of a whole holding; it keeps its id and goes one tier deeper.
    /// No document hash: the hop's {HoldingTransferred} carries none.
    /// Requirements: as {splitTransfer}, with ERC-721 approval rules and without the document
    /// hash; `from` owns the holding; the new tier is within {maxTier} (if set).
    /// Emits {Transfer}, {HoldingTransferred}.
    function transferFrom(address from, address to, uint256 tokenId) public {
        HoldingData storage h = _holdings[tokenId];
        address owner = h.owner;
        if (owner == address(0)) revert CertificateUnknownHolding(tokenId);
        if (owner != from) revert CertificateWrongOwner(tokenId, from, owner);
        if (!_isApprovedOrOwner(msg.sender, owner, tokenId)) revert CertificateNotOwnerNorApproved(tokenId, msg.sender);
        if (msg.sender != owner) _membership.requireCapable(msg.sender, IMembership.Capability.SpendHoldings);
        _requireMovable(tokenId, h);
        _requireTier(h.tier + 1);
        _moveWhole(tokenId, h, from, to);
    }

    function safeTransferFrom(address from, address to, uint256 tokenId) external {
        safeTransferFrom(from, to, tokenId, "");
    }

    function safeTransferFrom(address from, address to, uint256 tokenId, bytes memory data) public {
        transferFrom(from, to, tokenId);
        ERC721Utils.checkOnERC721Received(msg.sender, from, to, tokenId, data);
    }

    /// @notice ERC-721 approval of one holding (the zero address clears it).
    /// Requirements: caller is the owner or an operator approved for all of its holdings; `to` is
    /// not the owner; a non-zero `to` is a member whose role may spend holdings
    /// (`Membership.requirePermitted`). Emits {Approval}.
    function approve(address to, uint256 tokenId) external {
        address owner = _ownerOf(tokenId);
        if (to == owner) revert CertificateApproveToOwner(tokenId, owner);
        if (msg.sender != owner && !_operatorApprovals[owner][msg.sender]) {
            revert CertificateNotOwnerNorApproved(tokenId, msg.sender);
        }
        if (to != address(0)) _membership.requirePermitted(to, IMembership.Capability.SpendHoldings);
        _tokenApprovals[tokenId] = to;
        emit Approval(owner, to, tokenId);
    }

    /// @notice Requirements: `operator` is neither zero nor the caller; approving (`true`) needs a
    /// member whose role may spend holdings (`Membership.requirePermitted`); revoking is always
    /// allowed. Emits {ApprovalForAll}.
    function setApprovalForAll(address operator, bool approved) external {
        if (operator == address(0)) revert CertificateZeroAddress();
        if (operator == msg.sender) revert CertificateApproveToCaller(msg.sender);
        if (approved) _membership.requirePermitted(operator, IMembership.Capability.SpendHoldings);
        _operatorApprovals[msg.sender][operator] = approved;
        emit ApprovalForAll(msg.sender, operator, approved);
    }

    function getApproved(uint256 tokenId) external view returns (address) {
        _ownerOf(tokenId);
        return _tokenApprovals[tokenId];
    }

    function isApprovedForAll(address owner, address operator) external view returns (bool) {
        return _operatorApprovals[owner][operator];
    }

    function supportsInterface(bytes4 interfaceId) public view override(ERC165, IERC165) returns (bool) {
        return interfaceId == type(IERC3525).interfaceId || interfaceId == type(IERC721).interfaceId
            || super.supportsInterface(interfaceId);
    }

    // --- views ------------------------------------------------------------------------------

    function certificate(uint256 certificateId) external view returns (Certificate memory) {
        return _certificate(certificateId);
    }

    function holding(uint256 tokenId) external view returns (Holding memory) {
        HoldingData storage h = _holdings[tokenId];
        if (h.owner == address(0)) revert CertificateUnknownHolding(tokenId);
        return Holding(h.certificateId, h.owner, h.value, h.parentTokenId, h.tier, h.frozen);
    }

    function certificateCount() external view returns (uint256) {
        return _certificateCount;
    }

    function tokenCount() external view returns (uint256) {
        return _tokenCount;
    }

    function maxTerm() external view returns (uint256) {
        return _maxTerm;
    }

    /// @notice Invoice `key`: amount, used (backed by certificates that count), closed, and the
    /// certificates whose backing counts. An unknown key reads as all zero.
    function invoice(bytes32 key) external view returns (Invoice memory) {
        InvoiceData storage inv = _invoices[key];
        return Invoice(inv.amount, inv.used, inv.closedBy != 0, inv.certificates);
    }

    /// @notice The invoices backing certificate `certificateId`, as given at issue (empty for a
    /// plain {issue}).
    function certificateInvoices(uint256 certificateId) external view returns (InvoiceBacking[] memory) {
        return _backings[certificateId];
    }

    function invoicesRequired() external view returns (bool) {
        return _invoicesRequired;
    }

    function maxTier() external view returns (uint32) {
        return _maxTier;
    }

    function minSplitValue() external view returns (uint256) {
        return _minSplitValue;
    }

    function financing() external view returns (address) {
        return _financing;
    }

    function settlement() external view returns (address) {
        return _settlement;
    }

    function membership() external view returns (IMembership) {
        return _membership;
    }

    // --- internals --------------------------------------------------------------------------

    /// @dev The one path that issues a certificate; `invoices` is empty for a plain {issue}.
    function _issue(
        address payee,
        uint256 faceValue,
        uint64 maturity,
        bytes32 documentHash,
        InvoiceBacking[] memory invoices
    ) private returns (uint256 certificateId, uint256 tokenId) {
        _membership.requireRole(msg.sender, IMembership.Role.CoreEnterprise);
        _membership.requireRole(payee, IMembership.Role.Supplier);
        if (faceValue == 0) revert CertificateZeroValue();
        if (faceValue > type(uint128).max) revert CertificateValueTooLarge(faceValue);
        if (documentHash == bytes32(0)) revert CertificateZeroDocumentHash();
        uint256 latest = block.timestamp + _maxTerm;
        if (maturity <= block.timestamp || maturity > latest) {
            revert CertificateInvalidMaturity(maturity, block.timestamp + 1, latest);
        }
        _membership.consumeCredit(msg.sender, faceValue);

        certificateId = ++_certificateCount;
        tokenId = _tokenCount + 1;
        _certificates[certificateId] = Certificate({
            debtor: msg.sender,
            maturity: maturity,
            status: Status.Pending,
            issuedAt: uint64(block.timestamp),
            faceValue: uint128(faceValue),
            redeemedValue: 0,
            documentHash: documentHash,
            rootTokenId: tokenId
        });
        emit CertificateIssued(
            certificateId, msg.sender, payee, tokenId, faceValue, uint64(block.timestamp), maturity, documentHash
        );
        if (invoices.length != 0) _backInvoices(certificateId, faceValue, invoices);
        _createHolding(certificateId, payee, 0, 1, faceValue, documentHash);
        emit TransferValue(0, tokenId, faceValue);
    }

    /// @dev Registers `invoices` as the backing of the new certificate `certificateId`.
    function _backInvoices(uint256 certificateId, uint256 faceValue, InvoiceBacking[] memory invoices) private {
        uint256 total;
        for (uint256 i; i < invoices.length; ++i) {
            InvoiceBacking memory b = invoices[i];
            if (b.key == bytes32(0) || b.amount == 0 || b.backed == 0) {
                revert CertificateInvalidInvoice(b.key, b.amount, b.backed);
            }
            InvoiceData storage inv = _invoices[b.key];
            if (inv.position[certificateId] != 0) revert CertificateDuplicateInvoice(b.key);
            if (inv.amount == 0) inv.amount = b.amount;
            else if (inv.amount != b.amount) revert CertificateInvoiceAmountMismatch(b.key, inv.amount, b.amount);
            if (inv.closedBy != 0) revert CertificateInvoiceClosed(b.key, inv.closedBy);
            uint256 used = uint256(inv.used) + b.backed;
            if (used > b.amount) {
                uint256 n = inv.certificates.length;
                revert CertificateInvoiceOverused(
                    b.key, n == 0 ? 0 : inv.certificates[n - 1], b.amount, inv.used, b.backed
                );
            }
            inv.used = uint128(used);
            inv.certificates.push(certificateId);
            inv.position[certificateId] = inv.certificates.length;
            _backings[certificateId].push(b);
            total += b.backed;
            emit InvoiceBacked(b.key, certificateId, b.amount, b.backed, used);
        }
        if (total != faceValue) revert CertificateInvoiceBackingMismatch(faceValue, total);
    }

    /// @dev Rejection: the certificate's backing no longer counts and it leaves each invoice's list.
    function _releaseInvoices(uint256 certificateId) private {
        InvoiceBacking[] storage backings = _backings[certificateId];
        for (uint256 i; i < backings.length; ++i) {
            InvoiceBacking storage b = backings[i];
            InvoiceData storage inv = _invoices[b.key];
            uint256 used = inv.used - b.backed;
            inv.used = uint128(used);
            uint256 index = inv.position[certificateId] - 1;
            uint256 last = inv.certificates[inv.certificates.length - 1];
            inv.certificates[index] = last;
            inv.position[last] = index + 1;
            inv.certificates.pop();
            delete inv.position[certificateId];
            emit InvoiceReleased(b.key, certificateId, b.backed, used);
        }
    }

    /// @dev Full settlement closes the certificate's invoices; their backing stays counted.
    function _closeInvoices(uint256 certificateId) private {
        InvoiceBacking[] storage backings = _backings[certificateId];
        for (uint256 i; i < backings.length; ++i) {
            bytes32 key = backings[i].key;
            InvoiceData storage inv = _invoices[key];
            if (inv.closedBy == 0) {
                inv.closedBy = certificateId;
                emit InvoiceClosed(key, certificateId);
            }
        }
    }

    /// @dev The one path that moves value into a new holding. Never to the holding's own owner:
    /// that would deepen the tier without a hop between two members.
    function _split(uint256 fromTokenId, address to, uint256 value, bytes32 documentHash)
        private
        returns (uint256 newTokenId)
    {
        HoldingData storage from = _holdings[fromTokenId];
        _requireMovable(fromTokenId, from);
        address owner = from.owner;
        if (to == owner) revert CertificateSelfTransfer(fromTokenId, owner);
        _membership.requireHolders(owner, to);
        if (value == 0) revert CertificateZeroValue();
        if (value > from.value) revert CertificateInsufficientValue(fromTokenId, from.value, value);
        uint256 min = _minSplitValue;
        if (value < min) revert CertificateSplitTooSmall(value, min);
        uint256 remainder = from.value - value;
        if (remainder != 0 && remainder < min) revert CertificateSplitRemainderTooSmall(remainder, min);
        uint32 tier = from.tier + 1;
        _requireTier(tier);
        from.value = uint128(remainder);
        newTokenId = _createHolding(from.certificateId, to, fromTokenId, tier, value, documentHash);
        emit TransferValue(fromTokenId, newTokenId, value);
        _checkOnERC3525Received(fromTokenId, newTokenId, value, to);
    }

    /// @dev The one path that moves a whole holding to another owner: one tier deeper, its
    /// ERC-721 approval cleared (value allowances are keyed by tier, so they lapse too).
    function _moveWhole(uint256 tokenId, HoldingData storage h, address from, address to) private {
        if (to == from) revert CertificateSelfTransfer(tokenId, from);
        _membership.requireHolders(from, to);
        delete _tokenApprovals[tokenId];
        unchecked {
            _balances[from] -= 1;
            _balances[to] += 1;
        }
        h.owner = to;
        uint32 tier = h.tier + 1;
        h.tier = tier;
        emit Transfer(from, to, tokenId);
        emit HoldingTransferred(tokenId, from, to, tier);
    }

    /// @dev The one path that creates a holding. The caller emits the {TransferValue} that
    /// carries `value` in, right after.
    function _createHolding(
        uint256 certificateId,
        address owner,
        uint256 parentTokenId,
        uint32 tier,
        uint256 value,
        bytes32 documentHash
    ) private returns (uint256 tokenId) {
        tokenId = ++_tokenCount;
        _holdings[tokenId] = HoldingData({
            owner: owner,
            tier: tier,
            frozen: false,
            certificateId: uint56(certificateId),
            value: uint128(value),
            parentTokenId: uint128(parentTokenId)
        });
        unchecked {
            _balances[owner] += 1;
        }
        emit Transfer(address(0), owner, tokenId);
        emit SlotChanged(tokenId, 0, certificateId);
        emit HoldingCreated(tokenId, certificateId, parentTokenId, owner, value, tier, documentHash);
    }

    /// @dev The one path that destroys value; a holding left empty burns, with the reference
    /// implementation's events: {TransferValue}, {SlotChanged} (slot to 0), {Transfer} (to 0).
    function _burnValue(uint256 tokenId, uint256 value) private {
        HoldingData storage h = _holdings[tokenId];
        if (value > h.value) revert CertificateInsufficientValue(tokenId, h.value, value);
        unchecked {
            h.value -= uint128(value);
        }
        emit TransferValue(tokenId, 0, value);
        if (h.value == 0) {
            address owner = h.owner;
            uint256 certificateId = h.certificateId;
            unchecked {
                _balances[owner] -= 1;
            }
            delete _holdings[tokenId];
            delete _tokenApprovals[tokenId];
            emit SlotChanged(tokenId, certificateId, 0);
            emit Transfer(owner, address(0), tokenId);
        }
    }

    function _setFrozen(uint256 tokenId, bool frozen, bytes32 reasonHash) private {
        HoldingData storage h = _holdings[tokenId];
        if (h.owner == address(0)) revert CertificateUnknownHolding(tokenId);
        if (h.frozen == frozen) revert CertificateFreezeUnchanged(tokenId, frozen);
        h.frozen = frozen;
        emit HoldingFrozen(tokenId, frozen, reasonHash);
    }

    /// @dev ERC-3525 allowance rules: owner, approved-for-all and the token's ERC-721 approvee
    /// move freely; anyone else spends a value allowance. Whoever moves another's holding must be
    /// an active member whose role may spend holdings: an approval does not outlive a suspension.
    function _spendAllowance(address operator, uint256 tokenId, uint256 value) private {
        address owner = _ownerOf(tokenId);
        if (operator == owner) return;
        if (!_operatorApprovals[owner][operator] && _tokenApprovals[tokenId] != operator) {
            uint32 tier = _holdings[tokenId].tier;
            uint256 current = _allowances[tokenId][tier][operator];
            if (current == 0) revert CertificateNotOwnerNorApproved(tokenId, operator);
            if (current < value) revert CertificateInsufficientAllowance(tokenId, operator, current, value);
            if (current != type(uint256).max) {
                unchecked {
                    _allowances[tokenId][tier][operator] = current - value;
                }
                emit ApprovalValue(tokenId, operator, current - value);
            }
        }
        _membership.requireCapable(operator, IMembership.Capability.SpendHoldings);
    }

    function _isApprovedOrOwner(address operator, address owner, uint256 tokenId) private view returns (bool) {
        return operator == owner || _operatorApprovals[owner][operator] || _tokenApprovals[tokenId] == operator;
    }

    function _requireMovable(uint256 tokenId, HoldingData storage h) private view {
        if (h.owner == address(0)) revert CertificateUnknownHolding(tokenId);
        if (h.frozen) revert CertificateFrozen(tokenId);
        Certificate storage cert = _certificates[h.certificateId];
        if (cert.status != Status.Active) revert CertificateWrongStatus(h.certificateId, cert.status);
        if (block.timestamp >= cert.maturity) revert CertificateMatured(h.certificateId, cert.maturity);
    }

    function _requireTier(uint32 tier) private view {
        uint32 cap = _maxTier;
        if (cap != 0 && tier > cap) revert CertificateTierTooDeep(tier, cap);
    }

    function _pendingForPayee(uint256 certificateId) private view returns (Certificate storage cert) {
        cert = _certificate(certificateId);
        if (cert.status != Status.Pending) revert CertificateWrongStatus(certificateId, cert.status);
        address payee = _holdings[cert.rootTokenId].owner;
        if (msg.sender != payee) revert CertificateNotPayee(certificateId, msg.sender, payee);
        _membership.requireRole(msg.sender, IMembership.Role.Supplier);
    }

    function _certificate(uint256 certificateId) private view returns (Certificate storage cert) {
        cert = _certificates[certificateId];
        if (cert.status == Status.None) revert CertificateUnknownCertificate(certificateId);
    }

    function _ownerOf(uint256 tokenId) private view returns (address owner) {
        owner = _holdings[tokenId].owner;
        if (owner == address(0)) revert CertificateUnknownHolding(tokenId);
    }

    function _checkOnERC3525Received(uint256 fromTokenId, uint256 toTokenId, uint256 value, address to) private {
        if (to.code.length == 0) return;
        try IERC165(to).supportsInterface(type(IERC3525Receiver).interfaceId) returns (bool supported) {
            if (!supported) return;
        } catch {
            return;
        }
        bytes4 answer = IERC3525Receiver(to).onERC3525Received(msg.sender, fromTokenId, toTokenId, value, "");
        if (answer != IERC3525Receiver.onERC3525Received.selector) revert CertificateReceiverRejected(to);
    }
}
