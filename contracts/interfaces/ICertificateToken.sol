// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC3525} from "./IERC3525.sol";

/// @title Digital receivable certificates (数字债权凭证) as ERC-3525 semi-fungible tokens.
/// @notice slot = certificate id, token = holding, value = amount in settlement-currency units.
/// A holding records the holding it was split from (its parent) and its tier (1 = the holding
/// issued to the tier-1 supplier; every hop adds one).
interface ICertificateToken is IERC3525 {
    enum Status {
        None,
        Pending, // issued, waiting for the payee to accept
        Active, // accepted: holdings may move until maturity
        Rejected, // the payee refused it; credit released
        Overdue, // unpaid after maturity plus the grace period
        Settled // every unit of value redeemed
    }

    /// @dev Field order is the storage packing: debtor, maturity and status share one slot.
    struct Certificate {
        address debtor;
        uint64 maturity;
        Status status;
        uint64 issuedAt;
        uint128 faceValue;
        uint128 redeemedValue;
        bytes32 documentHash;
        uint256 rootTokenId; // the holding issued to the payee
    }

    struct Holding {
        uint256 certificateId;
        address owner;
        uint256 value;
        uint256 parentTokenId;
        uint32 tier;
        bool frozen;
    }

    /// @dev One invoice backing a certificate, as given to {issueWithInvoices}: `key` is the
    /// invoice's canonical key (see docs/contracts.md "Controls"), `amount` its amount (fixed at
    /// its first registration), `backed` the part of the certificate's face value it backs.
    struct InvoiceBacking {
        bytes32 key;
        uint128 amount;
        uint128 backed;
    }

    /// @dev An invoice of the registry: its amount, the value backed by certificates that count
    /// (every certificate listed, settled ones included; rejected ones are released and removed),
    /// and whether a settled certificate closed it (a closed invoice backs no new certificate).
    struct Invoice {
        uint128 amount;
        uint128 used;
        bool closed;
        uint256[] certificates;
    }

    /// @dev Emitted on issue, with the first holding `tokenId` owned by `payee`.
    event CertificateIssued(
        uint256 indexed certificateId,
        address indexed debtor,
        address indexed payee,
        uint256 tokenId,
        uint256 faceValue,
        uint64 issuedAt,
        uint64 maturity,
        bytes32 documentHash
    );
    event CertificateStatusChanged(uint256 indexed certificateId, Status status);
    /// @dev Emitted whenever a holding comes into being (issue, split, financing). Its value is
    /// `initialValue`; every later change of value is a `TransferValue` event (from 0 = mint,
    /// to 0 = burn), so the indexer keeps values by replaying `TransferValue` alone.
    event HoldingCreated(
        uint256 indexed tokenId,
        uint256 indexed certificateId,
        uint256 indexed parentTokenId,
        address owner,
        uint256 initialValue,
        uint32 tier,
        bytes32 documentHash
    );
    /// @dev A whole holding changed owner through an ERC-721 transfer; its tier grew by one.
    event HoldingTransferred(uint256 indexed tokenId, address indexed from, address indexed to, uint32 tier);
    /// @dev Judicial freeze (司法冻结) or its release; `reasonHash` is the hash of the order.
    event HoldingFrozen(uint256 indexed tokenId, bool frozen, bytes32 reasonHash);
    event MaxTermSet(uint256 maxTermSeconds);
    event SystemContractsSet(address financing, address settlement);
    /// @dev Invoice `key` backs `backed` of certificate `certificateId`; `used` is the invoice's
    /// total backed value after it, `amount` its (fixed) amount.
    event InvoiceBacked(
        bytes32 indexed key, uint256 indexed certificateId, uint256 amount, uint256 backed, uint256 used
    );
    /// @dev The certificate was rejected: its backing `released` of invoice `key` no longer counts.
    event InvoiceReleased(bytes32 indexed key, uint256 indexed certificateId, uint256 released, uint256 used);
    /// @dev The certificate was fully settled: invoice `key` is closed, its backing stays counted.
    event InvoiceClosed(bytes32 indexed key, uint256 indexed certificateId);
    event InvoicesRequiredSet(bool required);
    /// @dev 0 = no cap.
    event MaxTierSet(uint32 maxTier);
    /// @dev 0 = no minimum.
    event MinSplitValueSet(uint256 minSplitValue);

    error CertificateUnauthorized(address caller);
    error CertificateZeroAddress();
    error CertificateZeroValue();
    error CertificateUnknownCertificate(uint256 certificateId);
    error CertificateUnknownHolding(uint256 tokenId);
    error CertificateWrongStatus(uint256 certificateId, Status status);
    error CertificateInvalidMaturity(uint256 maturity, uint256 earliest, uint256 latest);
    error CertificateInvalidTerm(uint256 maxTermSeconds);
    error CertificateValueTooLarge(uint256 value);
    error CertificateNotPayee(uint256 certificateId, address caller, address payee);
    error CertificateNotOwnerNorApproved(uint256 tokenId, address caller);
    error CertificateInsufficientValue(uint256 tokenId, uint256 available, uint256 requested);
    error CertificateInsufficientAllowance(uint256 tokenId, address operator, uint256 allowance, uint256 requested);
    error CertificateSlotMismatch(uint256 fromTokenId, uint256 toTokenId);
    error CertificateSameToken(uint256 tokenId);
    error CertificateFrozen(uint256 tokenId);
    error CertificateFreezeUnchanged(uint256 tokenId, bool frozen);
    error CertificateMatured(uint256 certificateId, uint256 maturity);
    error CertificateWrongOwner(uint256 tokenId, address expected, address actual);
    error CertificateApproveToOwner(uint256 tokenId, address owner);
    error CertificateReceiverRejected(address receiver);
    /// @dev A split or whole transfer to the holding's own owner: it would deepen the tier without a hop.
    error CertificateSelfTransfer(uint256 tokenId, address owner);
    /// @dev Issue, split-and-transfer and financing delivery carry the hash of their trade documents.
    error CertificateZeroDocumentHash();
    /// @dev The financing and settlement contracts are wired once, at deployment.
    error CertificateSystemContractsAlreadySet(address financing, address settlement);
    /// @dev `setApprovalForAll` naming the caller itself (as the EIP-3525 reference refuses it).
    error CertificateApproveToCaller(address caller);
    /// @dev Plain {issue} while the operator requires invoices: use {issueWithInvoices}.
    error CertificateInvoicesRequired();
    /// @dev An invoice with a zero key, zero amount or zero backed value.
    error CertificateInvalidInvoice(bytes32 key, uint256 amount, uint256 backed);
    /// @dev The invoice was registered with another amount.
    error CertificateInvoiceAmountMismatch(bytes32 key, uint256 registered, uint256 given);
    /// @dev Backing beyond the invoice's amount; `usedByCertificate` is the latest certificate
    /// that already uses it (0 if none).
    error CertificateInvoiceOverused(
        bytes32 key, uint256 usedByCertificate, uint256 amount, uint256 used, uint256 requested
    );
    /// @dev A settled certificate closed the invoice.
    error CertificateInvoiceClosed(bytes32 key, uint256 closedByCertificate);
    /// @dev The same invoice twice in one issue.
    error CertificateDuplicateInvoice(bytes32 key);
    /// @dev The invoices' backed values do not add up to the face value.
    error CertificateInvoiceBackingMismatch(uint256 faceValue, uint256 backed);
    error CertificateTooManyInvoices(uint256 count, uint256 max);
    /// @dev A split or transfer would create a holding of `tier` beyond the operator's cap.
    error CertificateTierTooDeep(uint256 tier, uint256 maxTier);
    /// @dev A split's value below the operator's minimum.
    error CertificateSplitTooSmall(uint256 value, uint256 minSplitValue);
    /// @dev A split would leave a non-zero remainder below the operator's minimum.
    error CertificateSplitRemainderTooSmall(uint256 remainder, uint256 minSplitValue);

    // --- lifecycle -------------------------------------------------------------------------

    /// @notice The core enterprise issues a certificate to a tier-1 supplier (开立).
    function issue(address payee, uint256 faceValue, uint64 maturity, bytes32 documentHash)
        external
        returns (uint256 certificateId, uint256 tokenId);
    /// @notice {issue} with the trade invoices backing the certificate (一票一证, no double financing).
    function issueWithInvoices(
        address payee,
        uint256 faceValue,
        uint64 maturity,
        bytes32 documentHash,
        InvoiceBacking[] calldata invoices
    ) external returns (uint256 certificateId, uint256 tokenId);
    /// @notice The payee accepts (签收) its pending certificate.
    function accept(uint256 certificateId) external;
    /// @notice The payee rejects its pending certificate; the debtor's credit is released.
    function reject(uint256 certificateId) external;
    /// @notice Split `value` off `fromTokenId` into a new holding of `to` (拆分/流转), recording the
    /// hop's trade documents. Returns the new holding.
    function splitTransfer(uint256 fromTokenId, address to, uint256 value, bytes32 documentHash)
        external
        returns (uint256 newTokenId);
    function freeze(uint256 tokenId, bytes32 reasonHash) external;
    function unfreeze(uint256 tokenId, bytes32 reasonHash) external;
    function setMaxTerm(uint256 maxTermSeconds) external;
    function setInvoicesRequired(bool required) external;
    function setMaxTier(uint32 maxTier_) external;
    function setMinSplitValue(uint256 minSplitValue_) external;
    /// @notice Wire the financing and settlement contracts, once.
    function setSystemContracts(address financing, address settlement) external;

    // --- system contracts only -------------------------------------------------------------

    /// @notice Financing: move `value` of `fromTokenId` (owned by `seller`) to `to` as a new holding.
    function transferByAgent(uint256 fromTokenId, address seller, address to, uint256 value, bytes32 documentHash)
        external
        returns (uint256 newTokenId);
    /// @notice Financing: recourse returns the whole overdue holding `tokenId` from `from` to `to`.
    function recourseTransfer(uint256 tokenId, address from, address to) external;
    /// @notice Settlement: burn `value` of a holding that was paid out; returns its owner.
    function redeemValue(uint256 tokenId, uint256 value) external returns (address owner);
    /// @notice Settlement: mark an active certificate overdue.
    function markOverdue(uint256 certificateId) external;

    // --- views ------------------------------------------------------------------------------

    function certificate(uint256 certificateId) external view returns (Certificate memory);
    function holding(uint256 tokenId) external view returns (Holding memory);
    function certificateCount() external view returns (uint256);
    function maxTerm() external view returns (uint256);
    function invoice(bytes32 key) external view returns (Invoice memory);
    function certificateInvoices(uint256 certificateId) external view returns (InvoiceBacking[] memory);
    function invoicesRequired() external view returns (bool);
    function maxTier() external view returns (uint32);
    function minSplitValue() external view returns (uint256);
    function financing() external view returns (address);
    function settlement() external view returns (address);
}
