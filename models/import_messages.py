"""Texts for the refusals and row reasons of the Excel import (C9), in Simplified Chinese and
English. Keys not listed here fall back to models.messages."""
from __future__ import annotations

from .errors import InvalidValue, NotFound
from .fields import FIELD_LABELS
from .messages import MESSAGES
from .messages import render as render_core

IMPORT_MESSAGES: dict[str, tuple[str, str]] = {
    # the file
    "import.file_required": ("请选择要导入的 Excel 文件", "Choose the Excel file to import"),
    "import.not_excel": ("不是有效的 Excel 文件(只支持 .xlsx)",
                         "This is not a valid Excel file (only .xlsx is accepted)"),
    "import.too_big_unpacked": ("文件解压后过大({size} MB,上限 {limit} MB),已拒绝",
                                "The file unpacks to {size} MB, more than the {limit} MB allowed"),
    "import.zip_bomb": ("文件的压缩比异常({member}),疑似恶意文件,已拒绝",
                        "The file is compressed suspiciously ({member}) and was refused"),
    "import.too_many_rows": ("文件超过 {limit} 行,请拆分后再导入",
                             "The file has more than {limit} rows; split it and import the parts"),
    "import.no_rows": ("文件中没有数据行", "The file has no data rows"),
    "import.columns_mismatch": ("文件有 {found} 列,而导入模板“{template}”有 {expected} 列,"
                                "请检查是否选错了模板",
                                "The file has {found} columns but the template “{template}” has "
                                "{expected}: is it the right template?"),
    "import.header_mismatch": ("第 {column} 列的标题是“{header}”,而导入模板把这一列作为“{field}”,"
                               "请检查是否选错了模板",
                               "Column {column} is headed “{header}” but the template reads it as "
                               "“{field}”: is it the right template?"),
    "import.failed": ("导入中断:{detail}", "The import stopped: {detail}"),
    # the options
    "import.template_required": ("请选择导入模板", "Choose an import template"),
    "import.stage_required": ("请选择客户阶段", "Choose the stage"),
    "import.operator_required": ("请选择操作人", "Choose the operator"),
    "import.operator_not_allowed": ("您只能把客户导入给自己", "You may import customers only for yourself"),
    # rows
    "import.bad_value": ("{column} 列“{field}”的值无效",
                         "Invalid value for “{field}” in column {column}"),
    "import.formula_without_value": ("{column} 列是公式且没有保存计算结果,请在 Excel 中保存或粘贴为数值",
                                     "Column {column} holds a formula without a saved result: save "
                                     "the file in Excel or paste the values"),
    "import.error_value": ("{column} 列是错误值 {value}", "Column {column} holds the error {value}"),
    "import.extra_data": ("{column} 列超出了导入模板的列",
                          "Column {column} is outside the template's columns"),
    "import.name_merged": ("客户名称在合并单元格 {cells} 中,只有第一行有值",
                           "The company name is in merged cells {cells}: only their first "
                           "row has it"),
    "import.duplicate_in_database": ("客户名称已存在", "A customer with this name already exists"),
    "import.duplicate_in_file": ("与第 {row} 行的客户名称重复", "Same company name as row {row}"),
    "import.same_phone": ("可能重复:与“{name}”的电话相同", "Possible duplicate: same phone as “{name}”"),
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
}


# Registered with the shared table so that every text is found by key there too. (Better:
# move IMPORT_MESSAGES into models/messages.py — asked of the lead, who owns that file.)
MESSAGES.update(IMPORT_MESSAGES)


def render(key: str, lang: str = "zh_CN", **params) -> str:
    """The text of `key` in `lang`; a `field` parameter is shown as the field's label."""
    english = lang.startswith("en")
    if params.get("field") in FIELD_LABELS:
        zh, en = FIELD_LABELS[params["field"]]
        params = {**params, "field": en if english else zh}
    if key not in IMPORT_MESSAGES:
        return render_core(key, lang, **params)
    zh, en = IMPORT_MESSAGES[key]
    try:
        return (en if english else zh).format(**params)
    except (KeyError, IndexError):
        return en if english else zh


class _ImportText:
    def message(self, lang: str = "zh_CN") -> str:
        return render(self.key, lang, **self.params)


class ImportRefused(_ImportText, InvalidValue):
    """A refusal of the import area: an invalid file, option or template (400)."""

    key = "import.not_excel"


class ImportNotFound(_ImportText, NotFound):
    """A template or job that does not exist or the user may not see (404)."""

    key = "import_job.not_found"
