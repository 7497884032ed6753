"""Texts for every refusal key, in Simplified Chinese and English."""
from __future__ import annotations

MESSAGES: dict[str, tuple[str, str]] = {
    "error": ("操作失败", "The operation failed"),
    "not_found": ("记录不存在", "Not found"),
    "permission_denied": ("您没有此操作的权限", "You are not allowed to do this"),
    "invalid_value": ("输入值无效:{field}", "Invalid value: {field}"),
    "role.not_found": ("角色不存在:{role}", "No such role: {role}"),
    "user.not_found": ("用户不存在", "No such user"),
    "user.duplicate_username": ("用户名已存在:{username}", "The user name {username} is taken"),
    "customer.not_found": ("客户不存在", "No such customer"),
    "customer.not_yours": ("这不是您的客户", "This customer is not yours"),
    "customer.shared_edit_forbidden": ("您没有修改共享客户的权限",
                                       "You may not edit shared customers"),
    "customer.duplicate_name": ("客户名称已存在:{name}", "A customer named {name} already exists"),
    "customer.name_required": ("客户名称不能为空", "The company name is required"),
    "customer.unknown_field": ("未知字段:{field}", "Unknown field: {field}"),
    "customer.bad_stage": ("无效的客户阶段:{stage}", "Invalid stage: {stage}"),
    "customer.bad_ownership": ("无效的操作权:{ownership}", "Invalid ownership: {ownership}"),
    "customer.operators_required": ("请选择操作人", "Choose the operators"),
    "claim.quota_exceeded": ("今天的占有数量已达上限({quota}个)",
                             "You have reached today's claim limit ({quota})"),
    "claim.not_shared": ("该客户已被占有,不是共享客户", "This customer is no longer shared"),
    "release.not_operator": ("只有操作人才能释放该客户", "Only an operator can release this customer"),
    "stage_rule.forbids": ("客户阶段规则不允许此操作({action})",
                           "The stage rule does not allow this ({action})"),
    "stage_rule.field_locked": ("当前客户阶段不允许修改:{fields}",
                                "This stage does not allow changing: {fields}"),
    "stage.not_higher": ("只能上转到更高的客户阶段", "Promote only to a higher stage"),
    "stage.not_lower": ("只能下放到更低的客户阶段", "Demote only to a lower stage"),
    "stage.not_reserve": ("只能从储备客户中筛选", "Only reserve customers can be screened"),
    "mark.not_allowed": ("该客户阶段没有此标记", "This stage has no such mark"),
    "mark.bad_value": ("无效的标记值:{value}", "Invalid mark: {value}"),
    "record.not_found": ("联系记录不存在", "No such contact record"),
    "record.not_author": ("只能修改自己的联系记录", "You can change only your own records"),
    "record.reminder_needs_callback": ("设置提醒需要回访日期", "A reminder needs a callback date"),
    "opportunity.not_found": ("商机不存在", "No such opportunity"),
    "opportunity.bad_state": ("无效的商机状态:{state}", "Invalid opportunity state: {state}"),
    "order.not_found": ("订单不存在", "No such order"),
    "order.no_items": ("订单至少需要一个产品", "An order needs at least one item"),
    "order.bad_status": ("无效的订单状态:{value}", "Invalid order status: {value}"),
    "item.bad": ("产品明细无效", "Invalid line item"),
    "query.invalid": ("查询条件无效", "Invalid query"),
    "query.unknown_field": ("不能按此字段查询:{field}", "Cannot search on {field}"),
    "query.unknown_operator": ("未知的查询条件:{op}", "Unknown operator: {op}"),
    "query.bad_value": ("查询值无效:{field} = {value}", "Invalid value for {field}: {value}"),
    "query.too_deep": ("查询条件嵌套太深", "Conditions are nested too deeply"),
    "query.too_many_conditions": ("查询条件太多", "Too many conditions"),
    "query.unknown_preset": ("未知的预设查询:{preset}", "Unknown preset: {preset}"),
}


def render(key: str, lang: str = "zh_CN", **params) -> str:
    zh, en = MESSAGES.get(key, MESSAGES["error"])
    template = en if lang.startswith("en") else zh
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template
