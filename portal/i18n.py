"""The two label sets (中文 / English). The language is the `scf_lang` cookie (set by the switch in
the header), else the browser's Accept-Language, else the default (zh)."""

from __future__ import annotations

from typing import Any

LANGS = ("zh", "en")
COOKIE = "scf_lang"

# key: (中文, English)
LABELS: dict[str, tuple[str, str]] = {
    "app": ("供应链金融门户", "SCF Portal"),
    "login": ("登录", "Log in"),
    "logout": ("退出", "Log out"),
    "api_key": ("API 密钥", "API key"),
    "login_hint": ("使用平台发放给贵方的 API 密钥登录；密钥只保存在门户服务器端的会话中。",
                   "Log in with the API key the platform issued to you; it stays in the portal's server-side session."),
    "err_login": ("API 密钥无效或尚未生效", "unknown API key, or not yet valid"),
    "err_role": ("您的角色不能使用此页面", "this page is not for your role"),
    "err_csrf": ("表单已过期或来自其他网站，请刷新后重试",
                 "the form expired or came from another site: reload and retry"),
    "error": ("出错了", "Error"),
    "refused": ("未执行：", "Refused:"),
    "back": ("返回", "Back"),
    "none": ("暂无", "none"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "open": ("打开", "Open"),
    "set": ("设置", "Set"),
    "apply": ("筛选", "Apply"),
    "look_up": ("查询", "Look up"),
    "days": ("天", "days"),
    "year": ("年", "year"),
    # menu
    "nav_holdings": ("我的凭证", "My holdings"),
    "nav_offers": ("我的融资申请", "My offers"),
    "nav_offers_to_me": ("待受让的融资", "Offers to me"),
    "nav_book": ("我的资产", "My book"),
    "nav_core": ("开立与兑付", "Issue & repay"),
    "nav_operator": ("平台运营", "Operations desk"),
    "nav_audit": ("审计看板", "Audit dashboard"),
    "nav_operations": ("我的操作", "My operations"),
    "nav_market": ("融资市场", "Market"),
    "nav_early": ("提前付款", "Early payment"),
    # roles
    "role_operator": ("运营方", "operator"),
    "role_core_enterprise": ("核心企业", "core enterprise"),
    "role_supplier": ("供应商", "supplier"),
    "role_factor": ("保理商", "factor"),
    "role_auditor": ("审计方", "auditor"),
    # states of operations, certificates, offers, holdings
    "operation": ("操作", "Operation"),
    "state_queued": ("排队中", "queued"),
    "state_submitted": ("已提交", "submitted"),
    "state_mined": ("已上链", "mined"),
    "state_confirmed": ("已确认", "confirmed"),
    "state_failed": ("失败", "failed"),
    "state_pending": ("待签收", "pending"),
    "state_active": ("有效", "active"),
    "state_rejected": ("已拒收", "rejected"),
    "state_overdue": ("逾期", "overdue"),
    "state_settled": ("已兑付", "settled"),
    "state_open": ("待受让", "open"),
    "state_accepted": ("已成交", "accepted"),
    "state_cancelled": ("已撤销", "cancelled"),
    "state_none": ("无", "none"),
    "state_withdrawn": ("已撤回", "withdrawn"),
    "state_closed": ("已关闭", "closed"),
    "state_recourse_none": ("未行使", "not exercised"),
    "state_recourse_unpaid": ("追索未付", "claimed, unpaid"),
    "state_recourse_settled": ("已回购", "bought back"),
    "hstatus_live": ("持有中", "live"),
    "hstatus_burned": ("已兑付注销", "redeemed"),
    # fields
    "account": ("账户", "Account"),
    "active": ("有效", "Active"),
    "amount": ("金额", "Amount"),
    "args": ("参数", "Arguments"),
    "balance": ("结算币余额", "Currency balance"),
    "block": ("区块", "Block"),
    "certificate": ("凭证", "Certificate"),
    "certificates": ("凭证", "Certificates"),
    "debtor": ("债务人（核心企业）", "Debtor (core)"),
    "expires": ("有效期至", "Expires"),
    "face_value": ("票面金额", "Face value"),
    "factor": ("保理商", "Factor"),
    "frozen": ("已冻结", "frozen"),
    "holder": ("持有人", "Holder"),
    "holding": ("持有凭证", "Holding"),
    "holdings": ("持有凭证", "Holdings"),
    "kind": ("类型", "Kind"),
    "maturity": ("到期日", "Maturity"),
    "name": ("名称", "Name"),
    "parent": ("上级", "parent"),
    "payee": ("收款方", "Payee"),
    "price": ("价格", "Price"),
    "rate": ("年化贴现率", "Discount rate"),
    "recourse": ("有追索权", "Recourse"),
    "result": ("结果", "Result"),
    "role": ("角色", "Role"),
    "seller": ("出让方", "Seller"),
    "state": ("状态", "State"),
    "status": ("状态", "Status"),
    "tier": ("层级", "Tier"),
    "time": ("时间", "Time"),
    "tx": ("交易", "Tx"),
    "value": ("金额", "Value"),
    "doc_file": ("贸易单据文件（发票、合同、送货单）", "Trade document file (invoice, contract, delivery note)"),
    "doc_ref": ("或输入单据编号", "or type its reference"),
    "doc_hint": ("门户计算其 SHA-256 作为单据哈希上链；文件本身不上链、不保存。",
                 "The portal puts its SHA-256 on chain as the document hash; the file itself is neither "
                 "stored nor sent."),
    # supplier / factor
    "held_total": ("持有合计", "Held in total"),
    "suspended": ("会员已暂停", "membership suspended"),
    "incoming": ("待签收凭证", "Incoming certificates"),
    "accept": ("签收", "Accept"),
    "reject": ("拒收", "Reject"),
    "matures_when": ("到期分布", "What matures when"),
    "redeemable": ("当前可兑付", "Redeemable now"),
    "pay_supplier": ("拆分支付给供应商", "Pay a supplier"),
    "to_account": ("收款供应商账户", "Supplier's account"),
    "split_pay": ("拆分并支付", "Split and pay"),
    "offer_factor": ("向保理商申请融资", "Offer to a factor"),
    "quote": ("预计融资款", "Price now"),
    "make_offer": ("提交融资申请", "Make the offer"),
    "redeem": ("到期兑付", "Redeem"),
    "redeem_hint": ("核心企业还款后，按比例兑付本持有凭证。", "After the debtor repays, collect this holding's share."),
    "offer": ("融资申请", "Offer"),
    "offer_no": ("申请编号", "Offer no."),
    "accept_pay": ("受让并付款", "Accept and pay"),
    "cancel": ("撤销", "Cancel"),
    "offers_hint": ("列表来自网关（与您相关的最新融资申请）；更早的请按编号查询。",
                    "The gateway's list of the newest offers that concern you; look older ones up by number."),
    "all_invited": ("公开（受邀保理商）", "open to invited factors"),
    # market
    "offer_all": ("公开融资（全部或指定保理商）", "Offer to all factors or a list"),
    "factors": ("受邀保理商账户（留空＝全部保理商）", "Factors invited (empty: every factor)"),
    "factors_hint": ("多个账户用逗号或换行分隔；最先受让的受邀保理商成交。",
                     "Accounts separated by commas or lines; the first invited factor to accept gets it."),
    "ask_quotes": ("询价（RFQ）", "Ask for quotes"),
    "deadline": ("截止时间", "Deadline"),
    "rfq_hint": ("截止前各保理商只能看到自己的报价；您随时可以看到全部报价并在截止前选择一家成交。",
                 "Before the deadline each factor sees only its own quote; you see every quote and take one "
                 "before the deadline."),
    "quote_requests": ("询价", "Quote requests"),
    "request_no": ("询价编号", "Request"),
    "quote_no": ("报价编号", "Quote"),
    "days_left": ("剩余天数", "Days to maturity"),
    "best": ("最优", "best"),
    "no_quotes": ("暂无报价", "no quotes yet"),
    "quotes_visible_own": ("截止前您只能看到自己的报价。", "Before the deadline you see only your own quotes."),
    "quotes_visible_all": ("显示全部报价。", "Every quote is shown."),
    "accept_quote": ("接受报价", "Accept this quote"),
    "submit_quote": ("提交报价", "Submit a quote"),
    "withdraw": ("撤回", "Withdraw"),
    "cancel_request": ("撤销询价", "Cancel the request"),
    "open_offers_to_me": ("可受让的公开融资", "Open offers I may accept"),
    "early_offers_to_me": ("核心企业提前付款要约", "Early payment offered to me"),
    "accept_early": ("接受提前付款", "Accept early payment"),
    "programmes": ("提前付款计划", "Early-payment programmes"),
    "early_no": ("要约编号", "Offer"),
    "req_open": ("询价中", "open"),
    "prog_open": ("开放中", "open"),
    "req_accepted": ("已成交", "accepted"),
    "req_cancelled": ("已撤销", "cancelled"),
    "programme": ("计划", "Programme"),
    "budget": ("额度（票面）", "Budget (face value)"),
    "remaining": ("剩余额度", "Remaining"),
    "take": ("申请提前付款", "Take"),
    "no_holdings_of_debtor": ("您没有该核心企业的可用凭证", "no holding of this debtor to sell"),
    "recourse_amount": ("回购金额", "Buy-back amount"),
    "exercise_recourse": ("行使追索", "Exercise recourse"),
    "settle_recourse": ("结清追索", "Settle recourse"),
    "recourse_hint": ("有追索权的融资在凭证逾期后可要求出让方回购。",
                      "A recourse deal lets you make the seller buy the holding back once the certificate is overdue."),
    # core enterprise: early payment
    "early_hint": ("提前付款（动态折扣）：贴息 = 年化利率 × 提前天数 / 360 × 金额。",
                   "Early payment (dynamic discounting): discount = rate × days early / 360 × amount."),
    "offer_early": ("提前付款要约", "Offer early payment"),
    "open_programme": ("开设提前付款计划", "Open a standing programme"),
    "programme_hint": ("本企业任一凭证的持有人可按该利率申请提前付款，直至额度用完。",
                       "Any holder of your certificates may sell into it at this rate until the budget is spent."),
    "my_early_offers": ("我的提前付款要约", "My early-payment offers"),
    "my_programmes": ("我的提前付款计划", "My programmes"),
    "close_programme": ("关闭计划", "Close"),
    "scan_hint": ("网关没有提前付款列表：门户读取最新的要约和计划。",
                  "The gateway lists neither: the portal reads the newest offers and programmes."),
    # core enterprise
    "credit_limit": ("授信额度", "Credit line"),
    "credit_used": ("已用额度", "Used"),
    "credit_available": ("可用额度", "Available"),
    "issue": ("开立凭证", "Issue a certificate"),
    "repay": ("还款", "Repay"),
    "what_i_owe": ("应付款（按到期日）", "What I owe, by maturity"),
    "by_month": ("按月合计", "By month"),
    "repaid": ("已还款", "Repaid"),
    "owed": ("未还", "Owed"),
    # operator
    "chain_id": ("链 ID", "Chain id"),
    "system": ("系统", "System"),
    "paused": ("已暂停", "paused"),
    "running": ("运行中", "running"),
    "onboard": ("会员准入", "Onboard a member"),
    "onboarded": ("已准入", "Onboarded"),
    "kyc_file": ("KYC 材料文件", "KYC file"),
    "kyc_ref": ("或 KYC 档案编号", "or KYC file reference"),
    "key_once": ("API 密钥只显示这一次：请立即通过安全渠道交给该会员。门户和网关都不保存明文。",
                 "The API key is shown this once: hand it to the member now over a safe channel. "
                 "Neither the portal nor the gateway keeps it."),
    "key_replay": ("（重复提交：密钥已在首次显示）", "(a repeated submission: the key was shown the first time)"),
    "mint": ("发行结算币", "Mint settlement currency"),
    "freeze": ("司法冻结", "Freeze"),
    "unfreeze": ("解除冻结", "Unfreeze"),
    "reason": ("依据（如法院文书编号）", "Reason (e.g. court order)"),
    "emergency": ("紧急暂停", "Emergency pause"),
    "pause": ("暂停系统", "Pause"),
    "unpause": ("恢复系统", "Unpause"),
    "members": ("会员", "Members"),
    # auditor
    "date_from": ("开始日期", "From"),
    "date_to": ("截止日期（不含）", "To (exclusive)"),
    "core_member": ("核心企业账户", "Core enterprise"),
    "as_of": ("数据截至", "As of"),
    "as_of_date": ("截至时间（UTC）", "As of (UTC)"),
    "as_of_block": ("或截至区块", "or as of block"),
    "as_of_now": ("最新", "now"),
    "as_of_hint": ("所有报表、凭证列表、穿透图和 CSV 均按所选时点的链上状态。",
                   "Every report, the certificates, the lineage and the CSV files show the state at that point."),
    "exposure": ("核心企业敞口", "Exposure per core enterprise"),
    "issued": ("已开立", "Issued"),
    "outstanding": ("未兑付", "Outstanding"),
    "financed": ("已融资", "Financed"),
    "overdue": ("逾期", "Overdue"),
    "matured_unpaid": ("到期未还", "Matured unpaid"),
    "marked_overdue": ("已标记逾期", "Marked overdue"),
    "ageing": ("账龄", "Ageing"),
    "bucket": ("区间", "Bucket"),
    "tiers": ("穿透层级", "Tiers reached"),
    "suppliers": ("供应商数", "Suppliers"),
    "value_received": ("流入金额", "Value received"),
    "value_held": ("当前持有", "Value held now"),
    "financing": ("保理商融资", "Financing per factor"),
    "deals": ("笔数", "Deals"),
    "volume": ("融资金额", "Volume"),
    "paid": ("支付价款", "Paid"),
    "discount": ("贴息", "Discount"),
    "avg_rate": ("加权年化利率", "Avg rate"),
    "concentration": ("持有集中度", "Concentration by holder"),
    "parties": ("持有人数", "Parties"),
    "top_share": ("前 {n} 名占比", "Top-{n} share"),
    "share": ("占比", "Share"),
    "lineage": ("穿透图", "Lineage"),
    "received": ("收到", "received"),
    "now": ("现值", "now"),
    "moved": ("整体转让", "moved"),
    "created": ("生成", "created"),
    "max_tier": ("最深层级", "Deepest tier"),
    "live_value": ("存续金额", "Live value"),
    "expand_all": ("全部展开", "Expand all"),
    "collapse_all": ("全部折叠", "Collapse all"),
    "transactions": ("相关交易", "Transactions"),
    "what": ("内容", "What"),
}


# what an API's error means, by the contract error's name (details.error) or the error code
HINTS: dict[str, tuple[str, str]] = {
    "FORBIDDEN": ("这不是您的（凭证、报价、要约）或您不在受邀之列。",
                  "Not yours (holding, quote, offer), or you were not invited."),
    "FinancingNotInvited": ("您不在该公开融资的受邀保理商之列。", "You are not one of the factors this offer invites."),
    "FinancingOfferNotOpen": ("该融资申请已被受让或已撤销。", "The offer was already taken or cancelled."),
    "FinancingRequestNotOpen": ("该询价已成交或已撤销。", "The request was already settled or cancelled."),
    "FinancingQuoteNotOpen": ("该报价已被撤回或已成交。", "The quote was withdrawn or already taken."),
    "FinancingDeadlinePassed": ("询价已过截止时间。", "The request's deadline has passed."),
    "FinancingInvalidRate": ("利率无效。", "The rate is not valid."),
    "FinancingNotOverdue": ("凭证尚未逾期，不能行使追索。", "The certificate is not overdue yet: no recourse."),
    "FinancingRecourseStatus": ("该笔追索已行使或已结清。", "Recourse was already exercised or settled."),
    "FinancingNotDeal": ("不是已成交的融资。", "Not a deal (an accepted offer)."),
    "SettlementEarlyPaymentNotOpen": ("该提前付款要约已被接受或已撤销。",
                                      "The early-payment offer was taken or cancelled."),
    "SettlementEarlyPaymentExpired": ("该提前付款要约已过期。", "The early-payment offer has expired."),
    "SettlementProgrammeClosed": ("该计划已关闭。", "The programme is closed."),
    "SettlementBudgetExceeded": ("超过计划剩余额度。", "More than the programme has left."),
    "SettlementMatured": ("凭证已到期，不能提前付款。", "The certificate has matured: no early payment."),
    "CertificateInsufficientValue": ("金额超过该凭证的余额。", "More than the holding's value."),
    "ERC20InsufficientBalance": ("结算币余额不足。", "Not enough settlement currency."),
    "ERC20InsufficientAllowance": ("结算币授权额度不足。", "The currency allowance is too small."),
}


def hint(lang: str, error: dict[str, Any]) -> str:
    """The plain meaning of an API error in the page's language ('' when there is none)."""
    details = error.get("details") or {}
    name = str(details.get("error") or "") if isinstance(details, dict) else ""
    pair = HINTS.get(name) or HINTS.get(str(error.get("code") or ""))
    return "" if pair is None else pair[0 if lang == "zh" else 1]


def t(lang: str, key: str, **kw: Any) -> str:
    pair = LABELS.get(key)
    text = key if pair is None else pair[0 if lang == "zh" else 1]
    return text.format(**kw) if kw else text


def pick(cookie: str | None, accept_language: str | None, default: str) -> str:
    """The cookie's choice, else the first zh/en tag of Accept-Language (by q), else `default`."""
    if cookie in LANGS:
        return cookie
    tags = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        tags.append((-weight, i, tag.strip().lower()[:2]))
    for _, _, tag in sorted(tags):
        if tag in LANGS:
            return tag
    return default if default in LANGS else "zh"


def js_labels(lang: str) -> dict[str, str]:
    """The labels the page's script needs (operation states)."""
    return {k: t(lang, k) for k in LABELS if k.startswith("state_") or k == "days"}
