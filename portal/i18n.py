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
    "nav_clearing": ("结算币存取", "Deposits & withdrawals"),
    "nav_operations": ("我的操作", "My operations"),
    # roles
    "role_operator": ("运营方", "operator"),
    "role_core_enterprise": ("核心企业", "core enterprise"),
    "role_supplier": ("供应商", "supplier"),
    "role_factor": ("保理商", "factor"),
    "role_auditor": ("审计方", "auditor"),
    "role_clearing_agent": ("清算银行", "clearing agent"),
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
    "offer_scan_hint": ("显示最新 {n} 笔融资申请中发给您的；更早的请按编号查询。",
                        "Shows the offers addressed to you among the newest {n}; look older ones up by number."),
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
    "burn": ("兑回结算币", "Burn settlement currency"),
    "clearing_note": ("结算币由持牌清算银行按会员存入的资金发行、按提取兑回注销；平台运营方不经手客户资金。",
                      "The licensed clearing bank mints settlement currency against a member's deposit and "
                      "burns it on withdrawal; the platform operator never handles client money."),
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
