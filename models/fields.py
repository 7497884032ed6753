"""The customer fields that forms, imports, stage rules and queries may name.

Anything not listed here (stage, ownership, marks, ids, timestamps...) changes only
through its own rule function."""
from __future__ import annotations

# field -> value kind, for coercion and the query builder
CUSTOMER_DATA_FIELDS: dict[str, str] = {
    "name": "text", "keyword": "text", "contact_person": "text", "title": "text",
    "phone": "phone", "mobile": "phone", "fax": "phone", "qq": "text", "im": "text",
    "email": "text", "website": "text", "address": "text", "province": "text", "city": "text",
    "industry": "text", "category": "text", "source": "text", "profile": "text",
    "time_zone": "text", "do_not_call": "bool",
}

# Extra fields the query builder may offer (read-only there).
QUERY_ONLY_FIELDS: dict[str, str] = {
    "stage": "text", "ownership": "text", "contact_mark": "text", "tracking_mark": "text",
    "number_status": "text", "created_at": "datetime", "updated_at": "datetime",
    "next_callback_at": "datetime", "last_contacted_at": "datetime", "id": "int",
}

QUERYABLE_FIELDS: dict[str, str] = {**CUSTOMER_DATA_FIELDS, **QUERY_ONLY_FIELDS}

PHONE_COLUMNS = {"phone": "phone_e164", "mobile": "mobile_e164", "fax": "fax_e164"}

FIELD_LABELS: dict[str, tuple[str, str]] = {
    "name": ("客户名称", "Company name"), "keyword": ("关键字", "Keyword"),
    "contact_person": ("联系人", "Contact person"), "title": ("职务", "Title"),
    "phone": ("电话", "Phone"), "mobile": ("手机", "Mobile"), "fax": ("传真", "Fax"),
    "qq": ("QQ", "QQ"), "im": ("MSN/IM", "IM"), "email": ("电子邮件", "E-mail"),
    "website": ("网址", "Website"), "address": ("地址", "Address"),
    "province": ("省份", "Province"), "city": ("城市", "City"), "industry": ("行业", "Industry"),
    "category": ("客户分类", "Category"), "source": ("客户来源", "Source"),
    "profile": ("公司简介", "Company profile"), "time_zone": ("时区", "Time zone"),
    "do_not_call": ("免打扰", "Do not call"), "stage": ("客户阶段", "Stage"),
    "ownership": ("操作权", "Ownership"), "contact_mark": ("联系标记", "Contact mark"),
    "tracking_mark": ("跟踪标记", "Tracking mark"), "number_status": ("号码状态", "Number status"),
    "created_at": ("创建时间", "Created"), "updated_at": ("修改时间", "Updated"),
    "next_callback_at": ("回访日期", "Next callback"),
    "last_contacted_at": ("最近联系", "Last contacted"), "id": ("编号", "ID"),
}
