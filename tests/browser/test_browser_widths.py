"""Every list fits a 1366 px window (a common office screen): no page scrolls sideways and no
table hides a column behind a horizontal scroll bar (the 跟踪 column was clipped)."""
from models.crm.contact_records import add_contact_record

from tests.browser.chromium import log_in, shot

LISTS = ["/customers/reserve?tab=all", "/customers/target?tab=all", "/customers/potential?tab=all",
         "/customers/opportunity?tab=all", "/customers/closed?tab=all", "/customers/archive?tab=all",
         "/records", "/opportunities", "/orders", "/find?field=name&op=contains&value=公司",
         "/campaigns/dnc", "/review/reports?scope=team", "/review", "/review/calls",
         "/review/calls/custom", "/review/calls/templates", "/"]

OVERFLOW = """() => {
  const out = [];
  if (document.documentElement.scrollWidth > window.innerWidth) {
    out.push('page ' + document.documentElement.scrollWidth);
  }
  for (const box of document.querySelectorAll('.table-responsive')) {
    if (box.scrollWidth > box.clientWidth + 1) {
      out.push((box.querySelector('table') || box).id + ' ' + box.scrollWidth + '>' + box.clientWidth);
    }
  }
  return out;
}"""


def test_every_list_fits_1366_pixels(app, live_server, browser_page, session, users, clock,
                                     make_customer):
    long = "上海浦东新区张江高科技园区某某信息技术股份有限公司"
    for stage in ("reserve", "target", "potential", "opportunity", "closed"):
        c = make_customer(long + stage, stage=stage, owner=["tm", "tm2", "rep"],
                          contact_person="欧阳娜娜娜", city="乌鲁木齐市", industry="计算机软件与信息服务",
                          source="展会、老客户介绍", phone="021-62345678-8001")
        add_contact_record(session, users["tm"], c.id, content="联系" * 40, clock=clock)
    session.commit()
    page = browser_page
    wide = {}

    def check(urls):
        for url in urls:
            page.goto(live_server + url)
            found = page.evaluate(OVERFLOW)
            if found:
                shot(page, "wide-" + url.strip("/").replace("/", "-").split("?")[0])
                wide[url] = found
    log_in(page, live_server, "mgr", "pw-mgr")
    check(LISTS)
    page.goto(live_server + "/")
    page.click("button:has-text('退出')")
    log_in(page, live_server, "admin", "pw-admin")
    check(sorted(rule.rule for rule in app.url_map.iter_rules()    # every page without arguments
                 if "GET" in rule.methods and not rule.arguments
                 and "stream" not in rule.rule and not rule.rule.endswith((".ico", ".xlsx", ".csv"))
                 and rule.endpoint not in ("static", "bootstrap.static")))
    assert not wide, "\n".join(f"{u}: {w}" for u, w in wide.items())
