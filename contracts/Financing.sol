// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {ICertificateToken} from "./interfaces/ICertificateToken.sol";
import {IFinancing} from "./interfaces/IFinancing.sol";
import {IMembership} from "./interfaces/IMembership.sol";
import {ISettlementToken} from "./interfaces/ISettlementToken.sol";
import {Pricing} from "./Pricing.sol";

/// @title Financing
/// @notice Offers of holdings to factors and their atomic settlement (delivery versus payment):
/// the holding's value moves to the factor and the price to the seller in one transaction, or
/// neither moves. The market: open offers (the first invited factor to accept gets the holding),
/// requests for quotes (the seller accepts one firm quote), and recourse on deals made with it.
/// Every deal, however it was struck, is an accepted offer settled by the one path {_deliver}.
contract Financing is IFinancing, ReentrancyGuard {
    /// @dev 100% a year; a quote whose discount would reach the whole value is refused too.
    uint32 public constant MAX_RATE_BPS = Pricing.MAX_RATE_BPS;

    IMembership private immutable _membership;
    ICertificateToken private immutable _token;
    ISettlementToken private immutable _currency;

    uint256 private _offerCount;
    mapping(uint256 offerId => Offer) private _offers;
    /// @dev Open offers made to a list of factors; an open offer without a list is for every factor.
    mapping(uint256 offerId => bool) private _listed;
    mapping(uint256 offerId => mapping(address factor => bool)) private _invited;
    /// @dev Deal (accepted offer) -> the factor's new holding, and the state of its recourse.
    mapping(uint256 offerId => uint256) private _newTokenIds;
    mapping(uint256 offerId => RecourseStatus) private _recourse;
    uint256 private _requestCount;
    mapping(uint256 requestId => QuoteRequest) private _requests;
    uint256 private _quoteCount;
    mapping(uint256 quoteId => Quote) private _quotes;
    mapping(uint256 offerId => bytes32) private _registrations;

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
        _requireBuyer(tokenId, msg.sender, factor);
        return _createOffer(tokenId, h, value, factor, rateBps, expiresAt, recourse, documentHash);
    }

    /// @notice Offer `value` of holding `tokenId` to every active factor (`factors` empty) or to
    /// the factors listed, at `rateBps` a year; the first of them to call {acceptOffer} gets it.
    /// Its {OfferCreated} has a zero `factor`; the offer records the buyer once accepted.
    /// Requirements: as {createOffer}, for each listed factor (none may be the caller); with no
    /// list the caller is an active supplier or factor and the system is not paused.
    /// Emits {OfferCreated}, {OfferOpened}.
    function createOpenOffer(
        uint256 tokenId,
        uint256 value,
        address[] calldata factors,
        uint32 rateBps,
        uint64 expiresAt,
        bool recourse,
        bytes32 documentHash
    ) external returns (uint256 offerId) {
        ICertificateToken.Holding memory h = _token.holding(tokenId);
        if (h.owner != msg.sender) revert FinancingNotHolder(tokenId, msg.sender, h.owner);
        _membership.requireCapable(msg.sender, IMembership.Capability.HoldHoldings);
        for (uint256 i = 0; i < factors.length; ++i) {
            _requireBuyer(tokenId, msg.sender, factors[i]);
        }
        offerId = _createOffer(tokenId, h, value, address(0), rateBps, expiresAt, recourse, documentHash);
        if (factors.length != 0) {
            _listed[offerId] = true;
            for (uint256 i = 0; i < factors.length; ++i) {
                _invited[offerId][factors[i]] = true;
            }
        }
        emit OfferOpened(offerId, factors);
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
    /// Requirements: caller is the offer's factor or, for an open offer, one of its listed
    /// factors (any member with the factor role when there is no list) other than the seller;
    /// the offer is open and not expired; the seller still holds enough movable value; the
    /// factor holds the price. An open offer records its buyer as its factor.
    /// Emits {OfferAccepted}, and the token's and currency's transfer events.
    function acceptOffer(uint256 offerId) external nonReentrant returns (uint256 newTokenId) {
        Offer storage o = _openOffer(offerId);
        if (o.factor == address(0)) {
            if (_listed[offerId] ? !_invited[offerId][msg.sender] : !_isFactor(msg.sender)) {
                revert FinancingNotInvited(offerId, msg.sender);
            }
            if (msg.sender == o.seller) revert FinancingSelfOffer(o.tokenId, msg.sender);
        } else if (msg.sender != o.factor) {
            revert FinancingNotFactor(offerId, msg.sender, o.factor);
        }
        if (block.timestamp >= o.expiresAt) revert FinancingOfferExpired(offerId, o.expiresAt, block.timestamp);
        return _deliver(offerId, o, msg.sender);
    }

    // --- quotes (RFQ) -----------------------------------------------------------------------

    /// @notice Ask every active factor for a quote on `value` of holding `tokenId` until
    /// `deadline`. Nothing is locked: the holding still moves, and delivery checks it again.
    /// Requirements: caller owns the holding and is an active supplier or factor; the system is
    /// not paused; `documentHash` is not zero; 0 < `value` <= the holding's value; the
    /// certificate is active; now < `deadline` <= maturity.
    /// Emits {QuotesRequested}.
    function requestQuotes(uint256 tokenId, uint256 value, uint64 deadline, bool recourse, bytes32 documentHash)
        external
        returns (uint256 requestId)
    {
        ICertificateToken.Holding memory h = _token.holding(tokenId);
        if (h.owner != msg.sender) revert FinancingNotHolder(tokenId, msg.sender, h.owner);
        _membership.requireCapable(msg.sender, IMembership.Capability.HoldHoldings);
        _checkSale(tokenId, h, value, deadline, documentHash);
        requestId = ++_requestCount;
        _requests[requestId] = QuoteRequest({
            tokenId: tokenId,
            seller: msg.sender,
            value: uint128(value),
            deadline: deadline,
            recourse: recourse,
            status: RequestStatus.Open,
            documentHash: documentHash
        });
        emit QuotesRequested(requestId, tokenId, h.certificateId, msg.sender, value, deadline, recourse, documentHash);
    }

    /// @notice Withdraw a request; its quotes can no longer be accepted.
    /// Requirements: caller is its seller; the request is open. Emits {QuoteRequestCancelled}.
    function cancelQuoteRequest(uint256 requestId) external {
        QuoteRequest storage r = _openRequest(requestId);
        if (msg.sender != r.seller) revert FinancingNotRequester(requestId, msg.sender, r.seller);
        r.status = RequestStatus.Cancelled;
        emit QuoteRequestCancelled(requestId, msg.sender);
    }

    /// @notice A factor quotes `rateBps` a year; the price is fixed now (see {quote}) and the
    /// quote is firm until the deadline: accepting it moves the factor's currency.
    /// Requirements: caller is an active factor, not the seller; the seller is still an active
    /// holder; the system is not paused; the request is open and before its deadline; the rate
    /// is at most 100% a year and the discount below the value.
    /// Emits {QuoteSubmitted}.
    function submitQuote(uint256 requestId, uint32 rateBps) external returns (uint256 quoteId) {
        QuoteRequest storage r = _openRequest(requestId);
        _beforeDeadline(requestId, r);
        _requireBuyer(r.tokenId, r.seller, msg.sender);
        ICertificateToken.Certificate memory cert = _token.certificate(_token.holding(r.tokenId).certificateId);
        (uint256 price, uint32 daysToMaturity) = quote(r.value, rateBps, cert.maturity);
        quoteId = ++_quoteCount;
        _quotes[quoteId] = Quote({
            requestId: requestId,
            factor: msg.sender,
            price: uint128(price),
            rateBps: rateBps,
            daysToMaturity: daysToMaturity,
            status: QuoteStatus.Open
        });
        emit QuoteSubmitted(quoteId, requestId, msg.sender, rateBps, price, daysToMaturity);
    }

    /// @notice Withdraw a quote before the request's deadline.
    /// Requirements: caller is the quote's factor; the quote is open. Emits {QuoteWithdrawn}.
    function withdrawQuote(uint256 quoteId) external {
        Quote storage q = _openQuote(quoteId);
        if (msg.sender != q.factor) revert FinancingNotQuoter(quoteId, msg.sender, q.factor);
        _beforeDeadline(q.requestId, _requests[q.requestId]);
        q.status = QuoteStatus.Withdrawn;
        emit QuoteWithdrawn(quoteId, q.requestId, msg.sender);
    }

    /// @notice The seller accepts a quote: the deal is an offer to the quote's factor at its
    /// rate and price, created and accepted in this transaction (delivery versus payment).
    /// Requirements: caller is the request's seller; request and quote are open; before the
    /// deadline; then as {acceptOffer} (the seller still holds enough movable value, the factor
    /// is active and holds the price).
    /// Emits {OfferCreated}, {OfferAccepted}, {QuoteAccepted} and the transfers' events.
    function acceptQuote(uint256 quoteId) external nonReentrant returns (uint256 offerId, uint256 newTokenId) {
        Quote storage q = _openQuote(quoteId);
        uint256 requestId = q.requestId;
        QuoteRequest storage r = _openRequest(requestId);
        if (msg.sender != r.seller) revert FinancingNotRequester(requestId, msg.sender, r.seller);
        _beforeDeadline(requestId, r);
        r.status = RequestStatus.Accepted;
        q.status = QuoteStatus.Accepted;
        Offer memory o = Offer({
            tokenId: r.tokenId,
            seller: r.seller,
            factor: q.factor,
            value: r.value,
            price: q.price,
            rateBps: q.rateBps,
            expiresAt: r.deadline,
            recourse: r.recourse,
            status: OfferStatus.Open,
            documentHash: r.documentHash
        });
        offerId = _store(o, _token.holding(r.tokenId).certificateId, q.daysToMaturity);
        newTokenId = _deliver(offerId, _offers[offerId], q.factor);
        emit QuoteAccepted(quoteId, requestId, offerId);
    }

    // --- recourse ---------------------------------------------------------------------------

    /// @notice On a deal made with recourse whose certificate is Overdue (Settlement's rule:
    /// maturity plus grace passed without full repayment, marked by {Settlement-markOverdue}),
    /// the factor makes the seller buy the deal's holding back for {recourseAmount}: the price
    /// paid, in proportion to the value still on the holding. The seller pays through a currency
    /// allowance to this contract; if its allowance or balance is short, the claim is recorded
    /// unpaid ({RecourseUnpaid}) and the holding stays with the factor until {settleRecourse}.
    /// Requirements: caller is the deal's factor and still owns the deal's holding; the deal was
    /// made with recourse and recourse was not exercised; the certificate is Overdue; to buy
    /// back: the holding is not frozen, both parties are active holders, the system not paused.
    /// Emits {RecourseSettled} with the holding's {Transfer}, {HoldingTransferred} and the
    /// currency's {Transfer}; or {RecourseUnpaid}.
    function exerciseRecourse(uint256 offerId) external nonReentrant returns (bool paid) {
        Offer storage o = _deal(offerId);
        if (msg.sender != o.factor) revert FinancingNotFactor(offerId, msg.sender, o.factor);
        if (!o.recourse) revert FinancingNoRecourse(offerId);
        if (_recourse[offerId] != RecourseStatus.None) revert FinancingRecourseStatus(offerId, _recourse[offerId]);
        (uint256 amount, uint256 value, uint256 tokenId) = _recourseClaim(offerId, o);
        paid = _currency.allowance(o.seller, address(this)) >= amount && _currency.balanceOf(o.seller) >= amount;
        if (paid) {
            _buyBack(offerId, o, tokenId, value, amount);
        } else {
            _recourse[offerId] = RecourseStatus.Unpaid;
            emit RecourseUnpaid(offerId, tokenId, o.seller, o.factor, value, amount);
        }
    }

    /// @notice Settle an unpaid recourse claim: the seller buys the holding back for
    /// {recourseAmount}, computed again now, through its currency allowance to this contract.
    /// Requirements: caller is the deal's seller or factor; the claim is unpaid; the factor still
    /// owns the deal's holding; as {exerciseRecourse} for the buy-back; the seller's allowance
    /// and balance cover the amount (else the currency's ERC-20 error).
    /// Emits {RecourseSettled} and the transfers' events.
    function settleRecourse(uint256 offerId) external nonReentrant {
        Offer storage o = _deal(offerId);
        if (msg.sender != o.seller && msg.sender != o.factor) revert FinancingNotParty(offerId, msg.sender);
        if (_recourse[offerId] != RecourseStatus.Unpaid) revert FinancingRecourseStatus(offerId, _recourse[offerId]);
        (uint256 amount, uint256 value, uint256 tokenId) = _recourseClaim(offerId, o);
        _buyBack(offerId, o, tokenId, value, amount);
    }

    /// @notice Record the hash `ref` of the deal's registration number at 中登网 (the PBOC Credit
    /// Reference Center's movable-property registry), once.
    /// Requirements: `offerId` is a deal (an accepted offer); caller is its factor; `ref` is not
    /// zero; no reference is set yet. Emits {RegistrationSet}.
    function setRegistration(uint256 offerId, bytes32 ref) external {
        Offer storage o = _deal(offerId);
        if (msg.sender != o.factor) revert FinancingNotFactor(offerId, msg.sender, o.factor);
        if (ref == bytes32(0)) revert FinancingZeroRegistration(offerId);
        bytes32 current = _registrations[offerId];
        if (current != bytes32(0)) revert FinancingRegistrationAlreadySet(offerId, current);
        _registrations[offerId] = ref;
        emit RegistrationSet(offerId, msg.sender, ref);
    }

    /// @notice Deal `offerId`'s registration reference (zero until its factor sets it).
    /// Requirements: the offer was accepted.
    function registration(uint256 offerId) external view returns (bytes32) {
        _deal(offerId);
        return _registrations[offerId];
    }

    function offer(uint256 offerId) external view returns (Offer memory) {
        if (offerId == 0 || offerId > _offerCount) revert FinancingUnknownOffer(offerId);
        return _offers[offerId];
    }

    function offerCount() external view returns (uint256) {
        return _offerCount;
    }

    /// @notice Whether `factor` may accept open offer `offerId` (false for an offer to one factor).
    function isInvited(uint256 offerId, address factor) external view returns (bool) {
        if (_offers[offerId].factor != address(0) || _offers[offerId].status != OfferStatus.Open) return false;
        return _listed[offerId] ? _invited[offerId][factor] : _isFactor(factor);
    }

    function quoteRequest(uint256 requestId) external view returns (QuoteRequest memory) {
        if (requestId == 0 || requestId > _requestCount) revert FinancingUnknownRequest(requestId);
        return _requests[requestId];
    }

    function quoteRequestCount() external view returns (uint256) {
        return _requestCount;
    }

    function quoteOf(uint256 quoteId) external view returns (Quote memory) {
        if (quoteId == 0 || quoteId > _quoteCount) revert FinancingUnknownQuote(quoteId);
        return _quotes[quoteId];
    }

    function quoteCount() external view returns (uint256) {
        return _quoteCount;
    }

    /// @notice Deal `offerId` (an accepted offer): seller, factor, value, price, recourse, the
    /// factor's new holding and the state of recourse. Requirements: the offer was accepted.
    function deal(uint256 offerId) external view returns (Deal memory) {
        Offer storage o = _deal(offerId);
        return Deal(o.seller, o.factor, o.value, o.price, o.recourse, _newTokenIds[offerId], _recourse[offerId]);
    }

    /// @notice What the seller would pay to buy deal `offerId`'s holding back now, and the value
    /// left on it: floor(price x value left / value bought).
    function recourseAmount(uint256 offerId) external view returns (uint256 amount, uint256 value) {
        Offer storage o = _deal(offerId);
        value = _token.holding(_newTokenIds[offerId]).value;
        amount = Pricing.share(o.price, value, o.value);
    }

    /// @notice Price of `value` at `rateBps` a year for the days left to `maturity` (counted up);
    /// the discount is rounded down, in the seller's favour. Requirements: `rateBps` <= 100% a
    /// year; the discount is below `value`.
    function quote(uint256 value, uint32 rateBps, uint256 maturity)
        public
        view
        returns (uint256 price, uint32 daysToMaturity)
    {
        return Pricing.discounted(value, rateBps, maturity, block.timestamp);
    }

    /// @dev Creates and stores an open offer after the sale's checks (see {createOffer}); the
    /// caller has checked the parties.
    function _createOffer(
        uint256 tokenId,
        ICertificateToken.Holding memory h,
        uint256 value,
        address factor,
        uint32 rateBps,
        uint64 expiresAt,
        bool recourse,
        bytes32 documentHash
    ) private returns (uint256 offerId) {
        uint256 maturity = _checkSale(tokenId, h, value, expiresAt, documentHash);
        (uint256 price, uint32 daysToMaturity) = quote(value, rateBps, maturity);
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

    /// @dev The checks of a sale of `value` of holding `h` open until `until`; returns maturity.
    function _checkSale(
        uint256 tokenId,
        ICertificateToken.Holding memory h,
        uint256 value,
        uint64 until,
        bytes32 documentHash
    ) private view returns (uint256 maturity) {
        if (documentHash == bytes32(0)) revert FinancingZeroDocumentHash();
        if (value == 0) revert FinancingZeroValue();
        if (value > h.value) revert FinancingInsufficientValue(tokenId, h.value, value);
        ICertificateToken.Certificate memory cert = _token.certificate(h.certificateId);
        if (cert.status != ICertificateToken.Status.Active) {
            revert FinancingCertificateNotActive(h.certificateId, uint8(cert.status));
        }
        if (until <= block.timestamp || until > cert.maturity) {
            revert FinancingInvalidExpiry(until, block.timestamp, cert.maturity);
        }
        return cert.maturity;
    }

    /// @dev `factor` may buy `seller`'s holding `tokenId`: both active holders, `factor` an
    /// active factor, and not the seller itself.
    function _requireBuyer(uint256 tokenId, address seller, address factor) private view {
        _membership.requireHolders(seller, factor);
        _membership.requireRole(factor, IMembership.Role.Factor);
        if (factor == seller) revert FinancingSelfOffer(tokenId, factor);
    }

    /// @dev The one delivery-versus-payment path of every deal: the offer is accepted by
    /// `factor`, `value` moves to a new holding of the factor and the price to the seller.
    function _deliver(uint256 offerId, Offer storage o, address factor) private returns (uint256 newTokenId) {
        o.status = OfferStatus.Accepted;
        if (o.factor != factor) o.factor = factor;
        newTokenId = _token.transferByAgent(o.tokenId, o.seller, factor, o.value, o.documentHash);
        _newTokenIds[offerId] = newTokenId;
        _currency.transferByAgent(factor, o.seller, o.price);
        emit OfferAccepted(offerId, o.tokenId, newTokenId, o.seller, factor, o.value, o.price);
    }

    /// @dev The one buy-back path: the holding returns to the seller and `amount` goes to the factor.
    function _buyBack(uint256 offerId, Offer storage o, uint256 tokenId, uint256 value, uint256 amount) private {
        _recourse[offerId] = RecourseStatus.Settled;
        emit RecourseSettled(offerId, tokenId, o.seller, o.factor, value, amount);
        _token.recourseTransfer(tokenId, o.factor, o.seller);
        _currency.transferFrom(o.seller, o.factor, amount);
    }

    /// @dev The claim on deal `offerId` now: amount, value left, holding; checks that the factor
    /// still owns the holding and that the certificate is Overdue.
    function _recourseClaim(uint256 offerId, Offer storage o)
        private
        view
        returns (uint256 amount, uint256 value, uint256 tokenId)
    {
        tokenId = _newTokenIds[offerId];
        ICertificateToken.Holding memory h = _token.holding(tokenId);
        if (h.owner != o.factor) revert FinancingNotHolder(tokenId, o.factor, h.owner);
        ICertificateToken.Status status = _token.certificate(h.certificateId).status;
        if (status != ICertificateToken.Status.Overdue) revert FinancingNotOverdue(h.certificateId, uint8(status));
        value = h.value;
        amount = Pricing.share(o.price, value, o.value);
    }

    function _deal(uint256 offerId) private view returns (Offer storage o) {
        o = _offers[offerId];
        if (o.status == OfferStatus.None) revert FinancingUnknownOffer(offerId);
        if (o.status != OfferStatus.Accepted) revert FinancingNotDeal(offerId, o.status);
    }

    function _openRequest(uint256 requestId) private view returns (QuoteRequest storage r) {
        r = _requests[requestId];
        if (r.status == RequestStatus.None) revert FinancingUnknownRequest(requestId);
        if (r.status != RequestStatus.Open) revert FinancingRequestNotOpen(requestId, r.status);
    }

    function _openQuote(uint256 quoteId) private view returns (Quote storage q) {
        q = _quotes[quoteId];
        if (q.status == QuoteStatus.None) revert FinancingUnknownQuote(quoteId);
        if (q.status != QuoteStatus.Open) revert FinancingQuoteNotOpen(quoteId, q.status);
    }

    function _beforeDeadline(uint256 requestId, QuoteRequest storage r) private view {
        if (block.timestamp >= r.deadline) revert FinancingDeadlinePassed(requestId, r.deadline, block.timestamp);
    }

    function _isFactor(address account) private view returns (bool) {
        return _membership.roleOf(account) == IMembership.Role.Factor;
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
