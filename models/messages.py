"""Texts for every refusal key, in Simplified Chinese and English."""
from __future__ import annotations

import re

MESSAGES: dict[str, tuple[str, str]] = {
    "error": ("操作失败", "The operation failed"),
    "not_found": ("记录不存在", "Not found"),
    "permission_denied": ("您没有此操作的权限", "You are not allowed to do this"),
    "invalid_value": ("输入值无效：{field}", "Invalid value: {field}"),
    "role.not_found": ("角色不存在：{role}", "No such role: {role}"),
    "user.not_found": ("用户不存在", "No such user"),
    "user.duplicate_username": ("用户名已存在：{username}", "The user name {username} is taken"),
    "customer.not_found": ("客户不存在", "No such customer"),
    "customer.not_yours": ("这不是您的客户", "This customer is not yours"),
    "customer.shared_edit_forbidden": ("您没有修改共享客户的权限",
                                       "You may not edit shared customers"),
    "customer.duplicate_name": ("客户名称已存在：{name}", "A customer named {name} already exists"),
    "customer.name_required": ("客户名称不能为空", "The company name is required"),
    "customer.unknown_field": ("未知字段：{field}", "Unknown field: {field}"),
    "customer.bad_stage": ("无效的客户阶段：{stage}", "Invalid stage: {stage}"),
    "customer.bad_ownership": ("无效的操作权：{ownership}", "Invalid ownership: {ownership}"),
    "customer.operators_required": ("请选择操作人", "Choose the operators"),
    "customer.stage_required": ("请选择客户阶段", "Choose the stage"),
    "claim.quota_exceeded": ("今天的占有数量已达上限（{quota}个）",
                             "You have reached today's claim limit ({quota})"),
    "claim.not_shared": ("该客户已被占有，不是共享客户", "This customer is no longer shared"),
    "release.not_operator": ("只有操作人才能释放该客户", "Only an operator can release this customer"),
    "stage_rule.forbids": ("客户阶段规则不允许此操作（{action}）",
                           "The stage rule does not allow this ({action})"),
    "stage_rule.field_locked": ("当前客户阶段不允许修改：{fields}",
                                "This stage does not allow changing: {fields}"),
    "stage.not_higher": ("只能上转到更高的客户阶段", "Promote only to a higher stage"),
    "stage.not_lower": ("只能下放到更低的客户阶段", "Demote only to a lower stage"),
    "stage.not_reserve": ("只能从储备客户中筛选", "Only reserve customers can be screened"),
    "mark.not_allowed": ("该客户阶段没有此标记", "This stage has no such mark"),
    "mark.bad_value": ("无效的标记值：{value}", "Invalid mark: {value}"),
    "contact.not_found": ("联系人不存在", "No such contact"),
    "record.not_found": ("联系记录不存在", "No such contact record"),
    "record.not_author": ("只能修改自己的联系记录", "You can change only your own records"),
    "record.reminder_needs_callback": ("设置提醒需要回访日期", "A reminder needs a callback date"),
    "opportunity.not_found": ("商机不存在", "No such opportunity"),
    "opportunity.bad_state": ("无效的商机状态：{state}", "Invalid opportunity state: {state}"),
    "order.not_found": ("订单不存在", "No such order"),
    "order.no_items": ("订单至少需要一个产品", "An order needs at least one item"),
    "order.bad_status": ("无效的订单状态：{value}", "Invalid order status: {value}"),
    "item.bad": ("产品明细无效", "Invalid line item"),
    "query.invalid": ("查询条件无效", "Invalid query"),
    "query.unknown_field": ("不能按此字段查询：{field}", "Cannot search on {field}"),
    "query.unknown_operator": ("未知的查询条件：{op}", "Unknown operator: {op}"),
    "query.bad_value": ("查询值无效：{field} = {value}", "Invalid value for {field}: {value}"),
    "query.too_deep": ("查询条件嵌套太深", "Conditions are nested too deeply"),
    "query.too_many_conditions": ("查询条件太多", "Too many conditions"),
    "query.unknown_preset": ("未知的预设查询：{preset}", "Unknown preset: {preset}"),
    # administration (models.values, models.org.users, models.library, ...)
    "admin.required": ("请填写{field}", "{field} is required"),
    "admin.too_long": ("{field}太长（最多 {max} 个字符）", "{field} is too long (at most {max} characters)"),
    "admin.bad_integer": ("{field}必须是 {lo} 到 {hi} 之间的整数",
                          "{field} must be a whole number from {lo} to {hi}"),
    "admin.bad_amount": ("{field}必须是不小于 0 的金额", "{field} must be an amount of 0 or more"),
    "admin.bad_url": ("{field}必须是以 http:// 或 https:// 开头的网址",
                      "{field} must be a web address starting with http:// or https://"),
    "admin.bad_username": ("用户名只能由 2 到 64 个字母、数字、点、下划线、@ 或连字符组成",
                           "A user name is 2 to 64 letters, digits, dots, underscores, @ or hyphens"),
    "admin.short_password": ("密码至少需要 {min} 个字符", "The password needs at least {min} characters"),
    "admin.bad_language": ("无效的语言：{value}", "Invalid language: {value}"),
    "admin.bad_extension": ("分机号只能包含数字、*、# 或 +（最多 32 个）",
                            "An extension is up to 32 digits, *, # or +"),
    "admin.duplicate_extension": ("分机号已被使用：{value}", "The extension {value} is taken"),
    "admin.extension_on_no_server": (
        "分机号 {value} 不在任何 Asterisk 服务器的分机范围内（配置 servers 的 extensions）",
        "No Asterisk server takes extension {value} (the extensions of the servers setting)"),
    "admin.duplicate": ("{field}已存在：{value}", "{field} {value} already exists"),
    "admin.self_deactivate": ("不能停用自己的账号", "You cannot deactivate your own account"),
    "admin.self_demote": ("不能取消自己的管理员角色", "You cannot remove your own administrator role"),
    "admin.name_not_editable": ("客户名称不能设为可修改字段", "The company name cannot be an editable field"),
    "admin.unknown_field": ("未知字段：{value}", "Unknown field: {value}"),
    "admin.unknown_mark": ("未知的标记：{value}", "Unknown mark: {value}"),
    "admin.unknown_stage": ("无效的客户阶段：{value}", "Invalid stage: {value}"),
    "admin.bad_time_zone": ("无效的时区：{value}", "Invalid time zone: {value}"),
    "admin.no_file": ("请选择要上传的文件", "Choose a file to upload"),
    "admin.empty_file": ("文件是空的", "The file is empty"),
    "admin.file_too_large": ("文件太大（最大 {max} MB）", "The file is too large (at most {max} MB)"),
    "admin.document_missing": ("文件已不存在", "The file is no longer there"),
    # Excel import (models/imports/importer.py)
    # the file
    "import.file_required": ("请选择要导入的 Excel 文件", "Choose the Excel file to import"),
    "import.not_excel": ("不是有效的 Excel 文件（只支持 .xlsx）",
                         "This is not a valid Excel file (only .xlsx is accepted)"),
    "import.too_big_unpacked": ("文件解压后过大（{size} MB，上限 {limit} MB），已拒绝",
                                "The file unpacks to {size} MB, more than the {limit} MB allowed"),
    "import.zip_bomb": ("文件的压缩比异常（{member}），疑似恶意文件，已拒绝",
                        "The file is compressed suspiciously ({member}) and was refused"),
    "import.too_many_rows": ("文件超过 {limit} 行，请拆分后再导入",
                             "The file has more than {limit} rows; split it and import the parts"),
    "import.no_rows": ("文件中没有数据行", "The file has no data rows"),
    "import.columns_mismatch": ("文件有 {found} 列，而导入模板“{template}”有 {expected} 列，"
                                "请检查是否选错了模板",
                                "The file has {found} columns but the template “{template}” has "
                                "{expected}: is it the right template?"),
    "import.header_mismatch": ("第 {column} 列的标题是“{header}”，而导入模板把这一列作为“{field}”，"
                               "请检查是否选错了模板",
                               "Column {column} is headed “{header}” but the template reads it as "
                               "“{field}”: is it the right template?"),
    "import.failed": ("导入中断：{detail}", "The import stopped: {detail}"),
    # the options
    "import.template_required": ("请选择导入模板", "Choose an import template"),
    "import.stage_required": ("请选择客户阶段", "Choose the stage"),
    "import.operator_required": ("请选择操作人", "Choose the operator"),
    "import.operator_not_allowed": ("您只能把客户导入给自己或设为共享",
                                   "You may import customers only for yourself or as shared"),
    # rows
    "import.bad_value": ("{column} 列“{field}”的值无效",
                         "Invalid value for “{field}” in column {column}"),
    "import.formula_without_value": ("{column} 列是公式且没有保存计算结果，请在 Excel 中保存或粘贴为数值",
                                     "Column {column} holds a formula without a saved result: save "
                                     "the file in Excel or paste the values"),
    "import.error_value": ("{column} 列是错误值 {value}", "Column {column} holds the error {value}"),
    "import.extra_data": ("{column} 列超出了导入模板的列",
                          "Column {column} is outside the template's columns"),
    "import.duplicate_in_database": ("客户名称已存在", "A customer with this name already exists"),
    "import.duplicate_in_file": ("与第 {row} 行的客户名称重复", "Same company name as row {row}"),
    "import.same_phone": ("可能重复：与“{name}”的电话相同", "Possible duplicate: same phone as “{name}”"),
    # templates
    "import_template.not_found": ("导入模板不存在", "No such import template"),
    "import_template.name_required": ("请填写模板名称", "The template needs a name"),
    "import_template.name_too_long": ("模板名称太长", "The template name is too long"),
    "import_template.no_columns": ("模板至少需要一列", "The template needs at least one column"),
    "import_template.too_many_columns": ("模板最多 {limit} 列",
                                         "A template has at most {limit} columns"),
    "import_template.name_column": ("模板必须有且只有一列是“客户名称”",
                                    "Exactly one column must be the company name"),
    "import_template.field_twice": ("“{field}”对应了多列",
                                    "“{field}” is mapped to more than one column"),
    "import_template.bad_header_rows": ("标题行数应在 0 到 {limit} 之间",
                                        "Header rows must be between 0 and {limit}"),
    # jobs
    "import_job.not_found": ("导入任务不存在", "No such import"),
    "import_job.not_finished": ("导入尚未完成", "The import has not finished"),
    "import_job.not_interrupted": ("该导入没有中断，无法继续",
                                   "This import is not interrupted: there is nothing to resume"),
    "import_job.file_missing": ("上传的文件已不在服务器上，无法继续导入。已导入 {imported} 行；"
                                "请重新上传该文件并勾选“允许重名”，已导入的行会作为重复跳过",
                                "The uploaded file is no longer on the server: the import cannot "
                                "be resumed. {imported} rows were imported; upload the file "
                                "again with “allow duplicate names” ticked and the rows already "
                                "imported are skipped as duplicates"),
    # an interrupted job abandoned, operators checked again when the rows are written
    "import_job.not_abandonable": ("该导入没有中断，无法放弃",
                                   "This import is not interrupted: it cannot be abandoned"),
    "import_job.abandoned": ("导入已由 {by} 放弃：已导入 {imported} 行，其余行未导入；"
                             "上传的文件已从服务器删除",
                             "{by} abandoned the import: {imported} rows were imported, the "
                             "others were not; the uploaded file was deleted from the server"),
    "import_job.operator_inactive": ("所选操作人已不是在职用户，导入已停止：已导入 {imported} 行，"
                                     "其余行未导入",
                                     "The chosen operator is no longer an active user: the "
                                     "import stopped. {imported} rows were imported, the others "
                                     "were not"),
    # the import as people really save their files (issue 11): what a file is when it is
    # not an .xlsx, sheets, columns matched by their headings, banner rows, phones
    "import.xls": ("这是 .xls 旧格式（或加密的 Excel 文件），请在 Excel 中另存为 .xlsx 后再导入",
                   "This is an old .xls file (or an encrypted Excel file): save it as .xlsx in "
                   "Excel and import that"),
    "import.csv": ("这是 CSV 文本文件，只是扩展名为 .xlsx，请在 Excel 中打开并另存为 .xlsx 后再导入",
                   "This is a CSV text file with an .xlsx name: open it in Excel, save it as "
                   ".xlsx and import that"),
    "import.html": ("这是网页（HTML）格式的表格，只是扩展名为 Excel，请在 Excel 中打开并另存为 .xlsx 后再导入",
                    "This is a web page (HTML) table with an Excel name: open it in Excel, save "
                    "it as .xlsx and import that"),
    "import.truncated": ("文件不完整（上传或保存时被截断），请重新保存文件后再上传",
                         "The file is incomplete (cut off while saved or uploaded): save it "
                         "again and upload it again"),
    "import.macro": ("这是含宏的工作簿（.xlsm），为安全起见不导入，请在 Excel 中另存为 .xlsx（Excel 工作簿）后再导入",
                     "This is a macro workbook (.xlsm), not imported for safety: save it as an "
                     ".xlsx workbook in Excel and import that"),
    "import.sheet_not_found": ("工作簿中没有名为“{sheet}”的可见工作表",
                               "The workbook has no visible sheet named “{sheet}”"),
    "import.no_visible_sheet": ("工作簿中没有可见的工作表，请在 Excel 中取消隐藏后再导入",
                                "The workbook has no visible sheet: unhide it in Excel first"),
    "import.name_column_missing": ("文件缺少“客户名称”列（标题行：{headers}），请检查标题行是否与导入模板“{template}”一致",
                                   "The file has no company name column (headings: {headers}): "
                                   "does the header row fit the template “{template}”?"),
    "import.columns_by_position": ("这些列的标题与导入模板不同，按模板的列位置读取：{pairs}",
                                   "Headings unlike the template's, read by the template's column "
                                   "order: {pairs}"),
    "import.columns_unknown": ("这些列不在导入模板中，未导入：{columns}",
                               "Columns not in the template, not imported: {columns}"),
    "import.columns_missing": ("文件中没有这些列，已留空：{fields}",
                               "The file has no column for these fields, left empty: {fields}"),
    "import.banner_row": ("分隔标题行“{text}”（合并单元格 {cells}），已跳过",
                          "Banner row “{text}” (merged cells {cells}), skipped"),
    "import.empty_run": ("从第 {row} 行起连续 {count} 行为空，其后的行未读取",
                         "{count} blank rows in a row from row {row}: the rows after them were "
                         "not read"),
    "import.bad_phone": ("{column} 列“{field}”不是有效的电话号码：{value}",
                         "Column {column} (“{field}”) is not a valid phone number: {value}"),
    "customer.bad_phone": ("{field}不是有效的电话号码：{value}",
                           "{field} is not a valid phone number: {value}"),
    # dialing: campaigns, do-not-call list, holidays, dial attempts (models/dialer/campaigns.py,
    # dnc.py, holidays.py, dialing.py)
    "campaign.not_found": ("外呼活动不存在", "No such campaign"),
    "campaign.unknown_field": ("未知的外呼活动设置：{field}", "Unknown campaign setting: {field}"),
    "campaign.name_required": ("请填写外呼活动名称", "The campaign needs a name"),
    "campaign.name_taken": ("外呼活动名称已存在：{name}", "A campaign named {name} already exists"),
    "campaign.bad_value": ("{field}的值无效", "Invalid value for {field}"),
    "campaign.out_of_range": ("{field}必须在 {lo} 到 {hi} 之间",
                              "{field} must be between {lo} and {hi}"),
    "campaign.ring_timeout_too_short": ("振铃超时不能少于 {min} 秒",
                                        "The ring timeout must be at least {min} seconds"),
    "campaign.bad_hours": ("呼叫时段无效：格式为 HH:MM，开始时间必须早于结束时间",
                           "Invalid calling hours: use HH:MM, and start before the end"),
    "campaign.short_cap_over_daily": ("每号码 5 分钟的呼叫上限不能大于 24 小时的上限",
                                      "The 5-minute cap per number cannot exceed the 24-hour cap"),
    "campaign.bad_schedule": ("计划结束时间必须晚于开始时间", "The schedule must end after it starts"),
    "campaign.bad_retry_rules": ("重拨规则无效：{outcome}", "Invalid retry rule: {outcome}"),
    "campaign.voice_needs_flow": ("语音外呼活动需要选择语音流程并设置线路上限",
                                  "A voice campaign needs a flow and a line limit"),
    "campaign.bad_team": ("有坐席不存在或已停用", "An agent does not exist or is inactive"),
    "campaign.no_team": ("请先为外呼活动指定坐席", "Give the campaign a team of agents first"),
    "campaign.bad_transition": ("外呼活动当前的状态不允许此操作",
                                "The campaign cannot do this in its current state"),
    "campaign.closed": ("已停止的外呼活动不能修改", "A stopped campaign cannot be changed"),
    "campaign.schedule_over": ("外呼活动的计划时间已结束", "The campaign's schedule has ended"),
    "campaign.nothing_to_dial": ("外呼活动已没有可拨打的客户，请先添加符合条件的客户",
                                 "The campaign has no customer left to call: add matching "
                                 "customers first"),
    "dnc.bad_number": ("无效的电话号码：{number}", "Invalid phone number: {number}"),
    "dnc.reason_too_long": ("原因太长（最多 {max} 个字符）",
                            "The reason is too long (at most {max} characters)"),
    "dnc.too_many": ("一次最多导入 {max} 个号码", "At most {max} numbers per import"),
    "holiday.bad_date": ("无效的日期：{value}", "Invalid date: {value}"),
    "holiday.too_many": ("公司假日最多 {max} 天", "At most {max} company holidays"),
    "dial.attempt_not_found": ("呼叫记录不存在", "No such dial attempt"),
    "early_media.bad_label": ("请选择运营商提示音的类型", "Choose what the announcement said"),
    "early_media.bad_carrier": ("请填写运营商（最多 80 个字）", "Name the carrier (at most 80 characters)"),
    "early_media.bad_fingerprint": ("这段录音里没有可用的提示音", "No usable announcement in that stretch"),
    "early_media.bad_stretch": ("提示音的起止时间无效", "The announcement's start and end are invalid"),
    # agents' dialer states and campaign statistics (models/dialer/agent_states.py, campaign_stats.py)
    "agent_state.bad_state": ("无效的坐席状态：{state}", "Invalid agent state: {state}"),
    "agent_state.illegal": ("当前状态下不能进行此操作", "This is not possible in your current state"),
    "agent_state.reason_required": ("请选择暂停原因", "Choose a reason for the pause"),
    "agent_state.disposition_required": ("请选择通话结果", "Choose how the call ended"),
    "wrap_up.note_too_long": ("通话备注太长（最多 {max} 个字）", "The note is too long (at most {max} characters)"),
    "wrap_up.callback_needs_time": ("选择“{label}”时请填写回访日期和时间",
                                    "“{label}” needs the date and time to call back"),
    "wrap_up.callback_in_past": ("回访时间必须晚于现在", "The callback time must be in the future"),
    "wrap_up.call_not_found": ("通话不存在", "No such call"),
    "wrap_up.not_your_call": ("这不是您接听的通话", "You did not take this call"),
    "wrap_up.not_ended": ("只有已接通并已结束的通话才能做话后处理",
                          "Only a call that was answered and has ended can be wrapped up"),
    "wrap_up.already_done": ("这通电话已经做过话后处理", "This call is already wrapped up"),
    "wrap_up.in_dialer_panel": ("这通外呼电话请在外呼面板中做话后处理",
                                "Wrap this dialer call up in the dialer panel"),
    # dispositions (models/telephony/dispositions.py)
    "disposition.unknown": ("未知的通话结果：{code}", "Unknown disposition: {code}"),
    "disposition.inactive": ("通话结果“{label}”已停用，请选择其他结果",
                             "The disposition “{label}” is no longer in use: choose another"),
    "disposition.bad_code": ("代码只能包含小写字母、数字和下划线，以字母开头，2 至 32 个字符",
                             "The code takes 2 to 32 lower-case letters, digits and underscores, "
                             "starting with a letter"),
    "disposition.duplicate_code": ("代码已存在：{code}", "The code {code} is taken"),
    "disposition.label_required": ("请填写中文和英文名称（最多 {max} 个字符）",
                                   "Give the Chinese and English labels (at most {max} characters)"),
    "disposition.bad_stage_action": ("无效的阶段操作：{action}", "Invalid stage action: {action}"),
    "disposition.stage_target_required": ("“建议”或“直接”改变阶段时请选择目标阶段",
                                          "Choose the stage to suggest or make"),
    # pause codes and queue logins (models/dialer/pause_codes.py, agent_states.py)
    "pause_code.unknown": ("未知的暂停原因：{code}", "Unknown pause code: {code}"),
    "pause_code.inactive": ("暂停原因“{label}”已停用，请选择其他原因",
                            "The pause code “{label}” is no longer in use: choose another"),
    "pause_code.bad_code": ("代码只能包含小写字母、数字和下划线，以字母开头，2 至 32 个字符",
                            "The code takes 2 to 32 lower-case letters, digits and underscores, "
                            "starting with a letter"),
    "pause_code.duplicate_code": ("代码已存在：{code}", "The code {code} is taken"),
    "pause_code.label_required": ("请填写中文和英文名称（最多 {max} 个字符）",
                                  "Give the Chinese and English labels (at most {max} characters)"),
    "agent_state.unknown_queue": ("没有这个呼入队列：{queue}", "No such inbound queue: {queue}"),
    "agent_state.campaign_required": ("请选择要加入的外呼活动", "Choose a campaign to join"),
    "agent_state.other_campaign": ("您已在另一个外呼活动中，请先退出",
                                   "You are in another campaign: log out of it first"),
    "agent_state.not_on_team": ("您不在该外呼活动的坐席组中", "You are not on this campaign's team"),
    "agent_state.campaign_closed": ("该外呼活动已结束", "This campaign has ended"),
    "agent_state.changed": ("您的状态刚刚发生了变化，请重试", "Your state just changed: try again"),
    "campaign_stats.bad_report": ("无效的报表类型：{by}", "Invalid report: {by}"),
    # preview dialling (models/dialer/preview.py)
    "preview.not_preview": ("该外呼活动不是预览模式", "This campaign is not in preview mode"),
    "preview.not_ready": ("请先在该外呼活动中进入就绪状态", "Be ready in this campaign first"),
    "preview.not_running": ("该外呼活动当前未在运行", "The campaign is not running now"),
    "preview.not_yours": ("这不是您正在预览的客户", "This is not your preview"),
    "preview.not_previewing": ("该客户已不在您的预览中", "This customer is no longer in your preview"),
    "preview.already_dialled": ("已经开始拨号，不能跳过", "Dialling has started: it cannot be skipped"),
    "preview.no_extension": ("您还没有分机号，请联系管理员", "You have no phone extension: ask an administrator"),
    "preview.customer_gone": ("该客户已被删除，请跳过", "This customer was deleted: skip it"),
    "preview.do_not_call": ("该号码在禁呼名单中，请跳过", "This number is on the do-not-call list: skip it"),
    "preview.outside_hours": ("现在不在该客户的可呼叫时间内，请跳过",
                              "It is outside this customer's calling hours: skip it"),
    # click-to-call (models/dialer/click_to_call.py, agi/dialer/click_to_call.py)
    "click_to_call.bad_target": ("无法识别要拨打的号码", "Which number to call is not clear"),
    "click_to_call.no_such_call": ("该未接来电不存在或您无权查看", "No such unanswered call"),
    "click_to_call.no_number": ("该号码无效，无法拨打", "This is not a number that can be dialled"),
    "click_to_call.do_not_call": ("该号码在禁呼名单中，不能拨打", "This number is on the do-not-call list"),
    "click_to_call.outside_hours": ("公司规定现在不允许手动外呼", "The company does not allow manual calls at this hour"),
    "click_to_call.no_extension": ("您还没有分机号，请联系管理员", "You have no phone extension: ask an administrator"),
    "click_to_call.already_calling": ("您正在通话中，请先结束当前通话", "You are already on a call: end it first"),
    "click_to_call.not_found": ("该呼叫不存在", "No such call"),
    "click_to_call.expired": ("拨号请求超时未处理（拨号服务未运行？）", "The call was not placed in time (is the dialer running?)"),
    "click_to_call.phone_unregistered": ("您的话机未注册（未上线）", "Your phone is not registered"),
    "click_to_call.phone_busy": ("您的话机正忙", "Your phone is busy"),
    "click_to_call.agent_no_answer": ("您的话机未接听", "Your phone did not answer"),
    "click_to_call.customer_busy": ("对方忙", "The customer's line is busy"),
    "click_to_call.customer_no_answer": ("对方未接听", "The customer did not answer"),
    "click_to_call.customer_unreachable": ("对方无法接通", "The customer cannot be reached"),
    "click_to_call.not_answered": ("通话未接通", "The call was not answered"),
    "click_to_call.cancelled": ("已取消", "Cancelled"),
    "click_to_call.pbx_unreachable": ("无法连接电话系统", "The phone system cannot be reached"),
    "click_to_call.lost": ("呼叫状态丢失（拨号服务重启）", "The call was lost (the dialer restarted)"),
    "click_to_call.failed": ("呼叫失败", "The call failed"),
    # supervision (issue 14): listen / whisper / barge
    "spy.bad_mode": ("无效的监听方式：{mode}", "Invalid supervision mode: {mode}"),
    "spy.not_your_team": ("该坐席不在您的团队中，不能监听", "This agent is not on your team"),
    "spy.not_on_call": ("该坐席当前没有正在进行的通话", "This agent is not on a live call"),
    "spy.no_extension": ("您还没有分机号，无法接听监听电话，请联系管理员",
                         "You have no phone extension to take the call: ask an administrator"),
    "spy.self": ("不能监听自己的通话", "You cannot supervise your own call"),
    # the call bar's controls (models/telephony/call_commands.py)
    "call_bar.unknown_action": ("未知的通话操作", "Unknown call control"),
    "call_bar.no_call": ("您当前没有通话", "You are not on a call"),
    "call_bar.not_up": ("通话尚未接通", "The call is not connected"),
    "call_bar.pending": ("上一个操作还在进行中，请稍候", "The previous control is still running: wait"),
    "call_bar.no_customer": ("通话中没有客户一方", "The call has no customer side"),
    "call_bar.already_held": ("通话已经保持", "The call is already on hold"),
    "call_bar.not_held": ("通话没有保持", "The call is not on hold"),
    "call_bar.already_muted": ("已经静音", "You are already muted"),
    "call_bar.not_muted": ("没有静音", "You are not muted"),
    "call_bar.held_or_consulting": ("通话保持或咨询转接中，不能转接",
                                    "Resume the call or end the consultation first"),
    "call_bar.not_consulting": ("当前没有咨询转接", "No consultation is in progress"),
    "call_bar.consulting": ("咨询转接中：请先完成或取消转接", "Complete or cancel the transfer first"),
    "call_bar.bad_target_kind": ("请选择转接类型（分机、同事、队列或外部号码）",
                                 "Choose an extension, a colleague, a queue or an outside number"),
    "call_bar.target_required": ("请填写转接目标", "Give the transfer target"),
    "call_bar.unknown_extension": ("分机不存在：{extension}", "No such extension: {extension}"),
    "call_bar.unknown_colleague": ("找不到同事：{name}", "No colleague called {name}"),
    "call_bar.ambiguous_colleague": ("有多个同事叫“{name}”，请用分机号",
                                     "Several colleagues are called {name}: use the extension"),
    "call_bar.colleague_no_extension": ("{name}没有分机", "{name} has no extension"),
    "call_bar.transfer_to_self": ("不能转接给自己", "You cannot transfer to yourself"),
    "call_bar.unknown_queue": ("队列不存在：{queue}", "No such queue: {queue}"),
    "call_bar.bad_number": ("号码无效：{number}", "Not a phone number: {number}"),
    "call_bar.do_not_call": ("该号码在禁呼名单中", "This number is on the do-not-call list"),
    "call_bar.in_conference": ("三方通话中，不能保持或转接", "The call is a three-way call: no hold or transfer"),
    "call_bar.not_in_conference": ("当前不是三方通话", "The call is not a three-way call"),
    "call_bar.bad_party_kind": ("请选择加入方（分机、同事、经理或外部号码）",
                                "Choose an extension, a colleague, the manager or an outside number"),
    "call_bar.no_manager": ("找不到您的经理", "You have no manager to add"),
    "call_bar.not_a_party": ("该方不在通话中", "This party is not on the call"),
    # SMS (models.sms, issue 15)
    "sms.refused": ("不能发送短信", "The SMS cannot be sent"),
    "sms.opted_out": ("该号码已退订短信", "This number has opted out of SMS"),
    "sms.do_not_call": ("该号码在禁呼名单中，不能发送短信", "This number is on the do-not-call list"),
    "sms.no_mobile": ("没有可接收短信的手机号码", "There is no mobile number to text"),
    "sms.bad_number": ("号码无效：{number}", "Not a phone number: {number}"),
    "sms.unknown_variable": ("未知的模板变量：{name}", "Unknown template variable: {name}"),
    "sms.template_not_found": ("短信模板不存在", "No such SMS template"),
    "sms.job_not_found": ("群发任务不存在", "No such bulk SMS job"),
    "sms.bad_hours": ("发送时段无效（开始须早于结束，格式 HH:MM）",
                      "Invalid sending hours (HH:MM, the start before the end)"),
    "sms.no_recipients": ("没有符合条件的客户", "No customer to send to"),
    "sms.bad_job_action": ("群发任务当前不能执行此操作", "The bulk job cannot do this now"),
    "sms.cancelled": ("群发任务已取消", "The bulk job was cancelled"),
    "sms.sender_lost": ("发送程序中断，短信可能已发出，请核实后再发",
                        "The sender stopped mid-send: the SMS may have gone out; check before resending"),
    # recording quality review (issue 16): models/quality/
    "quality.form_exists": ("评分表“{name}”已存在", "A review form named '{name}' exists already"),
    "quality.form_not_found": ("评分表不存在", "No such review form"),
    "quality.form_inactive": ("该评分表已停用", "This review form is no longer in use"),
    "quality.form_empty": ("该评分表还没有评分项", "This review form has no items yet"),
    "quality.answer_missing": ("请为每个评分项打分", "Answer every item of the form"),
    "quality.not_reviewer": ("您不能评审这条录音", "You may not review this recording"),
    "quality.wrong_state": ("该评分当前不能进行此操作", "The review is not in a state that allows this"),
    "quality.review_not_found": ("评分不存在", "No such review"),
    "quality.own_dispute": ("不能裁定自己参与的申诉", "You cannot settle a dispute you are part of"),
    "quality.example_tags": ("请至少填写一个标签", "Give at least one tag"),
    "quality.bad_share": ("抽检比例应在 0 到 100% 之间", "The share to sample is between 0 and 100 %"),
}


# What a refusal's `field` names when it is not a customer field (models.fields.FIELD_LABELS):
# the inputs of pages and forms, as a person calls them. A refusal never shows a raw name.
PARAM_NAMES: dict[str, tuple[str, str]] = {
    "label": ("评分项", "item"), "kind": ("评分方式", "kind of mark"),
    "scale_max": ("最高分", "highest mark"), "weight": ("权重", "weight"),
    "summary": ("评语", "summary"), "reason": ("申诉理由", "reason"), "text": ("评论", "comment"),
    "at_ms": ("录音时间点", "moment of the recording"), "outcome": ("裁定结果", "outcome"),
    "answers": ("评分", "answers"), "tags": ("标签", "tags"),
    "form_name": ("评分表名称", "form name"), "section_title": ("评分部分", "section"),
    "share": ("抽检比例", "share"), "minimum": ("每人最少条数", "minimum per agent"),
    "period": ("统计周期", "period"), "to": ("结束日期", "end date"), "at": ("时间", "time"),
    "scope": ("统计范围", "scope"), "preset": ("预设查询", "preset"),
    "column": ("列", "column"), "action": ("操作", "action"), "ids": ("所选客户", "selection"),
    "variant": ("列表", "list"), "method": ("联系方式", "contact method"),
    "direction": ("呼叫方向", "call direction"), "number": ("编号", "number"),
    "opportunity_id": ("商机", "opportunity"), "password": ("密码", "password"),
    "uniqueid": ("通话编号", "call id"), "agent_ids": ("坐席", "agents"),
    "department": ("部门", "department"), "note": ("备注", "note"),
    "from": ("开始日期", "start date"), "rows": ("报表行", "report rows"),
    "template_name": ("模板名称", "template name"), "user_id": ("业务员", "salesperson"),
    "team_id": ("团队", "team"), "campaign_id": ("外呼活动", "campaign"),
    "alert_kind": ("提醒类型", "alert type"), "alert_threshold": ("提醒阈值", "alert threshold"),
    "service_level_seconds": ("服务水平时限", "service-level threshold"),
}
# The query builder's operators (models.crm.query.OPERATORS), for refusals that name one.
OPERATOR_NAMES: dict[str, tuple[str, str]] = {
    "contains": ("包含", "contains"), "not_contains": ("不包含", "does not contain"),
    "eq": ("等于", "equals"), "ne": ("不等于", "is not"), "ge": ("大于或等于", "at least"),
    "le": ("小于或等于", "at most"), "lt": ("小于", "less than"),
    "is_empty": ("为空", "is empty"), "is_not_empty": ("不为空", "is not empty"),
}


_RAW_NAME = re.compile(r"[a-z][a-z0-9_]*", re.ASCII)


def field_name(name: str, lang: str = "zh_CN", names: dict | None = None) -> str:
    """A field or input as a person calls it: from `names` (an area's own labels), the
    customer fields or PARAM_NAMES. Text that is not a raw name (already a label, a column
    header the user typed) is kept; an unknown raw name is quoted, never shown bare."""
    from models.fields import FIELD_LABELS
    if not _RAW_NAME.fullmatch(name):
        return name
    pair = (names or {}).get(name) or FIELD_LABELS.get(name) or PARAM_NAMES.get(name)
    if pair is None:
        return f"'{name}'" if lang.startswith("en") else f"“{name}”"
    return pair[1] if lang.startswith("en") else pair[0]


def render(key: str, lang: str = "zh_CN", *, names: dict | None = None, **params) -> str:
    """The text of `key` in `lang`; a `field` is named as a person calls it (field_name), an
    `op` by its words."""
    zh, en = MESSAGES.get(key, MESSAGES["error"])
    template = en if lang.startswith("en") else zh
    if isinstance(params.get("field"), str):
        params["field"] = field_name(params["field"], lang, names)
    if isinstance(params.get("op"), str) and params["op"] in OPERATOR_NAMES:
        pair = OPERATOR_NAMES[params["op"]]
        params["op"] = pair[1] if lang.startswith("en") else pair[0]
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template
