import io

from openpyxl import load_workbook

from admin.spreadsheet import export_response, neutralise


def test_formulas_are_neutralised():
    assert neutralise("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    for text in ("+1", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise(text) == "'" + text
    assert neutralise("上海") == "上海" and neutralise(5) == 5


def test_xlsx_and_csv_downloads(app):
    rows = [["北京华信", "=1+1", 3], ["深圳", None, 4]]
    with app.test_request_context():
        xlsx = export_response(["名称", "备注", "数"], rows, "客户", "xlsx")
        csv_ = export_response(["名称", "备注", "数"], rows, "客户", "csv")
    sheet = load_workbook(io.BytesIO(xlsx.get_data())).active
    assert [[c.value for c in r] for r in sheet.iter_rows()] == [
        ["名称", "备注", "数"], ["北京华信", "'=1+1", 3], ["深圳", None, 4]]
    assert "filename*=UTF-8''%E5%AE%A2%E6%88%B7.xlsx" in xlsx.headers["Content-Disposition"]
    text = csv_.get_data().decode("utf-8-sig")
    assert text.splitlines() == ["名称,备注,数", "北京华信,'=1+1,3", "深圳,,4"]
