"""Demo data: a Chinese telemarketing team and its customers, for the demo command and tests.

`load_demo(session, seed=..., customers=..., clock=...)` fills an empty database (roles and
rules are installed if missing) and returns a summary with the demo users' passwords. The same
seed and the same clock give the same data. Rows go in with bulk INSERTs (5,000 customers load
in one to two seconds on SQLite); nothing is committed here, the caller commits.
"""
from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from models.company import company_tz, day_bounds
from models.crm.stages import log_stage_rows
from models.org.users import create_user
from models.schema import (
    STAGES,
    CallScript,
    Competitor,
    Contact,
    ContactRecord,
    Customer,
    CustomerOperator,
    Document,
    ImportTemplate,
    OperatorHistory,
    Opportunity,
    OpportunityItem,
    Order,
    OrderFollowUp,
    OrderItem,
    Product,
    ResourceSite,
    User,
)
from models.setup import install_defaults

from . import fakedata as fd

# username, full name, role code. Extensions are 8001, 8002... in this order.
DEMO_USERS: tuple[tuple[str, str, str], ...] = (
    ("admin", "周建国", "admin"),
    ("chenlei", "陈磊", "sales_manager"),
    ("wangfang", "王芳", "sales_manager"),
    ("luowenchong", "罗文冲", "sales_rep"),
    ("zhaomin", "赵敏", "sales_rep"),
    ("sunhao", "孙浩", "sales_rep"),
    ("lihongguang", "李红光", "telemarketer"),
    ("zhangjun", "张军", "telemarketer"),
    ("huangli", "黄丽", "telemarketer"),
    ("wuxiaoyan", "吴晓燕", "telemarketer"),
)
FIRST_EXTENSION = 8001

_PASSWORD_CHARS = "abcdefghjkmnpqrstuvwxyz23456789"

# Share of customers that have been contacted, per stage (None = archive).
_CONTACTED = {None: 0.4, "reserve": 0.1, "target": 0.7, "potential": 1.0, "opportunity": 1.0,
              "closed": 1.0}
# Number of contact records of a contacted customer, per stage (min, max).
_RECORDS = {None: (1, 3), "reserve": (1, 2), "target": (1, 4), "potential": (2, 6),
            "opportunity": (3, 8), "closed": (3, 10)}
# When the latest contact was and when the next callback is (see _latest_days).
_BUCKETS_ACTIVE = (("today", 12), ("cb_today", 13), ("tomorrow", 10), ("week", 20),
                   ("month", 22), ("yesterday", 7), ("overdue", 8), ("none", 8))
_BUCKETS_RESERVE = (("none", 50), ("month", 25), ("week", 15), ("tomorrow", 5), ("today", 5))
_BUCKETS_PAUSED = (("none", 60), ("month", 40))
_BUCKETS_ARCHIVE = (("none", 1),)

_REFERENCE_SCRIPTS: tuple[tuple[str | None, str, str], ...] = (
    ("reserve", "资料核实",
     "您好，请问是某某公司吗？我这边是达盟科技的客服，想跟您核实一下贵公司的联系电话和地址，"
     "方便以后给您寄送行业资料。请问贵公司负责采购或者行政的是哪位？他的直线电话是多少呢？谢谢您！"),
    ("target", "开场白（首次致电）",
     "您好，请问是张经理吗？我是达盟科技的小王，我们专门帮企业做电话营销和呼叫中心系统。"
     "打扰您两分钟：贵公司现在有专门的电话销售或者客服团队吗？大概有几个人在打电话呢？"),
    ("target", "绕过前台",
     "您好，我是达盟科技的小王，上周和你们销售部的负责人约好今天沟通客户管理系统的事情，"
     "麻烦您帮我转一下销售经理，谢谢！如果他不在，方便告诉我怎么称呼他吗？我晚点再打过来。"),
    ("target", "探寻需求",
     "想请教您几个问题：现在业务员每天大概打多少个电话？客户资料是放在Excel里还是有系统管理？"
     "有没有出现过两个业务员打给同一个客户、或者忘记回访的情况？通话有没有录音方便主管检查？"),
    ("potential", "回访跟进",
     "张经理您好，我是达盟科技的小王，上次给您发的方案不知道您看了没有？您上次提到业务员"
     "容易忘记回访，我们系统里每个客户都有回访日期和弹窗提醒，主管也能看到每个人今天该回访多少。"
     "您看这周四下午方便的话，我过去给您和同事演示一下？"),
    ("potential", "异议处理：我们已经有系统了",
     "理解，很多客户找我们之前也在用别的系统。想了解一下现在的系统用得顺手吗？比如外呼的时候"
     "能不能自动过滤空号、关机？录音能不能直接在客户资料里点开听？如果这些方面还有不方便的地方，"
     "我们可以先免费试用两周，对比一下再做决定。"),
    ("opportunity", "异议处理：价格太贵",
     "价格确实是要考虑的。我们算一笔账：一个坐席每天多打通二十个有效电话，一个月就多四百多个"
     "有效沟通，只要多成交一两单，系统的费用就回来了。另外我们可以先上十个坐席，分两期付款，"
     "后面业务增长了再扩容，您看这样是不是压力小很多？"),
    ("opportunity", "促成签单",
     "张经理，方案和报价您这边都确认过了，技术上也没有问题。这个月底前签合同的话，可以送您"
     "两天的上门实施和一次坐席培训，下个月一号就能上线。您看合同我今天先发给您，还是明天过去当面签？"),
    ("closed", "售后回访",
     "张经理您好，我是达盟科技的小王，系统上线一个月了，想回访一下使用情况：坐席用得习惯吗？"
     "外呼和录音有没有遇到问题？有任何问题随时打我们的服务热线，我们两小时内响应。"),
    ("closed", "转介绍",
     "非常感谢您一直以来的支持！您身边做销售的朋友或者同行，如果也需要提升电话营销的效率，"
     "方便的话介绍给我们认识吗？成交后我们会送您一年的免费维护服务。"),
    (None, "客户说没时间",
     "明白，您现在比较忙，我就不多打扰了。您看我是明天上午十点还是下午三点再给您打过来比较方便？"
     "我先把两页的简单介绍发到您邮箱，您有空的时候看一眼。"),
)
_PERSONAL_SCRIPTS = (
    ("我的开场白", "李总您好！我是达盟的小李，专门帮企业把电话销售的效率提上去。"
                   "想跟您聊两分钟，看看对您的团队有没有帮助。"),
    ("约演示", "这个东西说再多不如看一眼，我下周二下午带电脑过去给您演示二十分钟，您看方便吗？"),
    ("价格异议", "先别急着看价格，我们先看看能帮您多带来多少单，好吗？"),
)
_COMPETITORS = (
    ("深圳市讯达通信技术有限公司", "语音网关、录音盒、小型呼叫中心系统",
     "硬件自产，价格较低", "软件功能简单，没有客户阶段管理，售后响应慢"),
    ("北京云呼科技有限公司", "云呼叫中心（SaaS）、外呼机器人",
     "免部署，按坐席按月付费，上线快", "数据存在云端，大客户有顾虑；通话质量受网络影响"),
    ("上海金话筒软件有限公司", "CRM与电话营销一体化软件",
     "品牌知名度高，大客户案例多", "价格高，定制周期长，中小企业用起来太复杂"),
    ("广州易联呼叫设备有限公司", "录音系统、传真服务器、IP话机",
     "渠道多，华南地区服务网点全", "没有预测式外呼，报表功能弱"),
    ("杭州销客网络科技有限公司", "移动CRM、销售过程管理App",
     "手机端体验好，外勤管理强", "电话功能依赖手机，不能集中录音和质检"),
    ("成都天音通信设备有限公司", "语音板卡、IVR系统",
     "技术底子好，适合做二次开发", "需要自己集成，交付周期长"),
)
_RESOURCE_SITES = (
    ("阿里巴巴(1688)", "https://www.1688.com", "国内最大的B2B批发平台，按行业和地区找供应商、工厂。"),
    ("慧聪网", "https://www.hc360.com", "综合B2B平台，工业品、电子类企业多。"),
    ("中国制造网", "https://cn.made-in-china.com", "制造业企业名录，适合找生产型企业。"),
    ("黄页88", "https://www.huangye88.com", "企业黄页，电话和地址较全。"),
    ("顺企网", "https://www.11467.com", "按城市分类的企业名录。"),
    ("马可波罗网", "https://www.makepolo.com", "工业品采购与企业库。"),
    ("企查查", "https://www.qcc.com", "核实企业注册信息、法人和经营状态。"),
    ("天眼查", "https://www.tianyancha.com", "查询企业工商信息和联系方式。"),
)
_DOCUMENTS = (
    ("达盟产品报价单(2026版)", "price-list-2026.pdf", "application/pdf"),
    ("达盟电话营销系统白皮书", "telemarketing-whitepaper.pdf", "application/pdf"),
    ("成功案例集", "case-studies.pdf", "application/pdf"),
    ("售后服务条款", "service-terms.pdf", "application/pdf"),
    ("销售合同模板", "sales-contract-template.pdf", "application/pdf"),
)
# one ready import template: its Excel file is downloaded from the import page
_IMPORT_TEMPLATE = ("标准客户导入", ["name", "contact_person", "title", "phone", "mobile",
                                    "email", "address", "city", "industry", "source"])
_OPPORTUNITY_KINDS = ("电话营销系统项目", "呼叫中心建设项目", "坐席扩容", "录音系统升级",
                      "外呼系统采购", "客服中心改造")


class _FixedClock:
    def __init__(self, when: dt.datetime):
        self._when = when

    def now(self) -> dt.datetime:
        return self._when


def _weighted(rng: random.Random, table: tuple[tuple[Any, int], ...]) -> Any:
    total = sum(w for _, w in table)
    x = rng.random() * total
    for value, weight in table:
        x -= weight
        if x < 0:
            return value
    return table[-1][0]


def _bulk(session: Session, model, rows: list[dict], *, ids: bool = False) -> list[int]:
    """INSERT many rows at once; with `ids`, return their new ids in the order of `rows`."""
    if not rows:
        return []
    # render_nulls: None values go in as NULL, so that all rows share one statement
    options = {"render_nulls": True}
    if ids:
        stmt = insert(model).returning(model.id, sort_by_parameter_order=True)
        return list(session.scalars(stmt, rows, execution_options=options))
    session.execute(insert(model), rows, execution_options=options)
    return []


def _stage_plan(rng: random.Random, n: int) -> list[str | None]:
    """The funnel: fixed shares per stage (each stage present once n >= 6), shuffled."""
    counts = {}
    for st, weight in fd.STAGE_WEIGHTS:
        counts[st] = int(weight * n)
        if n >= len(fd.STAGE_WEIGHTS) and counts[st] == 0:
            counts[st] = 1
    counts["reserve"] += n - sum(counts.values())
    plan = [st for st, _ in fd.STAGE_WEIGHTS for _ in range(counts[st])]
    rng.shuffle(plan)
    return plan


def load_demo(session: Session, *, seed: int = 2026, customers: int = 5000, clock) -> dict:
    """Fill an empty database with a demo company; return a summary (counts, users, passwords)."""
    now = clock.now()
    if now.tzinfo is None:
        raise ValueError("the clock must give aware datetimes")
    if customers < 0:
        raise ValueError("customers must be >= 0")
    install_defaults(session)
    if (session.scalar(select(func.count()).select_from(User))
            or session.scalar(select(func.count()).select_from(Customer))):
        raise ValueError("load_demo needs an empty database (no users, no customers)")
    rng = random.Random(seed)
    r = rng.random
    tz = company_tz(session)
    today = now.astimezone(tz).date()
    day_starts: dict[int, dt.datetime] = {}

    def day_start(k: int) -> dt.datetime:
        """UTC start of the company day `k` days from today."""
        if k not in day_starts:
            day_starts[k] = day_bounds(tz, today + dt.timedelta(days=k))[0]
        return day_starts[k]

    def at(k: int, minutes: int) -> dt.datetime:
        return day_start(k) + dt.timedelta(minutes=minutes)

    def work_time(k: int) -> dt.datetime:
        """Some minute of the working day k (09:00-18:00); today, a minute before now."""
        if k == 0:
            lo = at(0, 540) if now >= at(0, 560) else day_start(0)
            t = lo + (now - lo) * r()
            return max(lo, t.replace(second=0, microsecond=0))
        return at(k, 540 + int(r() * 540))

    def callback_time(k: int, *, after_now: bool = False) -> dt.datetime:
        """A quarter-hour between 09:00 and 17:30 of day k (later than now if asked)."""
        if after_now and k == 0:
            first = max(at(0, 540), now + dt.timedelta(minutes=15))
            slots = [at(0, m) for m in range(540, 1066, 15) if at(0, m) >= first]
            if slots:
                return slots[int(r() * len(slots))]
        return at(k, 540 + 15 * int(r() * 35))

    def day_of(when: dt.datetime) -> int:
        return (when.astimezone(tz).date() - today).days

    # ---- users ------------------------------------------------------------------------------
    user_clock = _FixedClock((now - dt.timedelta(days=800)).replace(microsecond=0))
    users_out = []
    by_role: dict[str, list[int]] = {"admin": [], "sales_manager": [], "sales_rep": [],
                                     "telemarketer": []}
    for n, (username, full_name, role) in enumerate(DEMO_USERS):
        password = "dm-" + "".join(_PASSWORD_CHARS[int(r() * len(_PASSWORD_CHARS))]
                                   for _ in range(6))
        user = create_user(session, username, full_name, password, role,
                           extension=str(FIRST_EXTENSION + n), clock=user_clock)
        by_role[role].append(user.id)
        users_out.append({"username": username, "full_name": full_name, "role": role,
                          "extension": user.extension, "password": password})
    admin_id = by_role["admin"][0]
    T, R, M = by_role["telemarketer"], by_role["sales_rep"], by_role["sales_manager"]
    agents = T + R

    def pick(pool: list[int]) -> int:
        return pool[int(r() * len(pool))]

    # ---- products -----------------------------------------------------------------------------
    products = [Product(code=p.code, name=p.name, unit=p.unit, price=Decimal(p.price),
                        description=p.description, active=True) for p in fd.PRODUCTS]
    session.add_all(products)
    session.flush()

    # ---- plan the customers ---------------------------------------------------------------------
    stages = _stage_plan(rng, customers)
    rows: list[dict] = []
    ops: list[list[int]] = []
    for i, st in enumerate(stages):
        own = fd.pick_ownership(rng, st)
        row = fd.customer_row(rng, i, now, stage=st, ownership=own)
        rows.append(row)
        ops.append(_operators(rng, st, own, T, R, M))
    # every ownership mode is there even in a tiny demo
    for mode in ("personal", "collaborative", "shared"):
        if rows and not any(row["ownership"] == mode for row in rows):
            k = next((i for i, row in enumerate(rows) if row["stage"] == "target"), 0)
            rows[k]["ownership"] = mode
            ops[k] = _operators(rng, rows[k]["stage"], mode, T, R, M)

    contacted = [r() < _CONTACTED[row["stage"]] for row in rows]
    for i, row in enumerate(rows):
        if row["stage"] in ("potential", "opportunity", "closed") and r() < 0.12:
            row["tracking_mark"] = "paused"
        if contacted[i]:
            # a contacted customer has been in the system for at least 25 days
            floor = now - dt.timedelta(days=25)
            if row["created_at"] > floor:
                row["created_at"] = (floor - dt.timedelta(minutes=int(r() * 30 * 1440))).replace(
                    microsecond=0)
                if row["stage_changed_at"] < row["created_at"] or row["stage"] in (None, "reserve"):
                    row["stage_changed_at"] = row["created_at"]
                row["updated_at"] = max(row["created_at"], row["stage_changed_at"])

    # Every agent gets customers called back today and customers contacted today.
    forced: dict[int, tuple[str, int]] = {}
    working_stages = ("target", "potential", "opportunity", "closed")
    for agent in agents:
        mine = [i for i in range(len(rows))
                if contacted[i] and agent in ops[i] and rows[i]["ownership"] != "shared"
                and rows[i]["stage"] in working_stages and rows[i]["tracking_mark"] == "tracking"
                and i not in forced]
        if len(mine) < 4:  # a small demo: hand the agent some shared customers
            spare = [i for i in range(len(rows))
                     if contacted[i] and rows[i]["ownership"] == "shared" and i not in forced
                     and rows[i]["stage"] in working_stages
                     and rows[i]["tracking_mark"] == "tracking"]
            for i in spare[:4 - len(mine)]:
                rows[i]["ownership"] = "personal"
                ops[i] = [agent]
                mine.append(i)
        chosen = rng.sample(mine, min(4, len(mine)))
        for n, i in enumerate(chosen):
            forced[i] = ("cb_today" if n % 2 == 0 else "today", agent)

    for i, row in enumerate(rows):
        if row["ownership"] == "shared":
            row["created_by_id"] = admin_id if r() < 0.5 else pick(T)
        else:
            row["created_by_id"] = ops[i][0]

    # ---- contacts and contact records (planned before insert, ids filled in later) -----------
    city_of = {c.city: c for c in fd.CITIES}
    contact_rows: list[dict] = []
    contact_owner: list[int] = []          # customer index of each contact row
    for i, row in enumerate(rows):
        if not (contacted[i] or r() < 0.4):
            continue
        n_contacts = 1 if r() < 0.55 else (2 if r() < 0.67 else 3)
        where = city_of[row["city"]]
        for n in range(n_contacts):
            created = row["created_at"] + dt.timedelta(minutes=int(r() * 20 * 1440))
            created = min(created, now).replace(microsecond=0)
            if n == 0 and row["contact_person"]:
                name, title = row["contact_person"], row["title"]
                phone, mob = row["phone"], row["mobile"]
            else:
                name, title = fd.person_name(rng), fd.title(rng)
                phone = fd.landline(rng, where) if r() < 0.7 else None
                mob = fd.mobile(rng) if r() < 0.8 else None
            qq = fd.qq(rng) if r() < 0.35 else None
            contact_rows.append({
                "customer_id": None, "name": name, "title": title,
                "department": fd.department(rng) if r() < 0.6 else None,
                "phone": phone, "phone_e164": fd.e164(phone),
                "mobile": mob, "mobile_e164": fd.e164(mob),
                "email": fd.email(rng, row["website"], qq) if r() < 0.5 else None,
                "qq": qq, "im": mob if mob and r() < 0.3 else None,
                "note": None, "created_at": created})
            contact_owner.append(i)
    contacts_of: dict[int, list[int]] = {}
    for k, i in enumerate(contact_owner):
        contacts_of.setdefault(i, []).append(k)

    record_rows: list[dict] = []
    record_owner: list[int] = []
    record_contact: list[int | None] = []
    order_of_stage = {None: 0, **{s: n for n, s in enumerate(STAGES)}}
    for i, row in enumerate(rows):
        if not contacted[i]:
            continue
        st = row["stage"]
        if i in forced:
            bucket, author = forced[i]
        else:
            author = None
            if st is None:
                bucket = _weighted(rng, _BUCKETS_ARCHIVE)
            elif st == "reserve":
                bucket = _weighted(rng, _BUCKETS_RESERVE)
            elif row["tracking_mark"] == "paused":
                bucket = _weighted(rng, _BUCKETS_PAUSED)
            else:
                bucket = _weighted(rng, _BUCKETS_ACTIVE)
        first_day = max(-60, day_of(row["created_at"]) + 1)
        last_day, cb_day = _latest_days(rng, bucket)
        last_day = max(last_day, first_day) if bucket != "today" else 0
        if cb_day is not None and cb_day <= last_day:
            cb_day = None
        lo, hi = _RECORDS[st]
        k = lo + int(r() * (hi - lo + 1))
        earlier = range(first_day, last_day)
        days = sorted(rng.sample(earlier, min(k - 1, len(earlier)))) + [last_day]
        cur = order_of_stage[st]
        # Each call is made at the callback time the previous one planned (a few minutes late);
        # a call made today before now plans, in hindsight, the quarter-hour it was made in.
        times, planned = [work_time(days[0])], []
        for d in days[1:]:
            if d == 0:
                when = work_time(0)
                planned.append(max(day_start(0), _quarter(when)))
            else:
                planned.append(callback_time(d))
                when = planned[-1] + dt.timedelta(minutes=int(r() * 25))
            times.append(when)
        if cb_day is not None:
            planned.append(callback_time(cb_day, after_now=(i in forced or r() < 0.5)))
        else:
            planned.append(None)
        person = row["contact_person"]
        my_contacts = contacts_of.get(i, [])
        previous_note = None
        for j, (when, nxt) in enumerate(zip(times, planned)):
            last = j == len(days) - 1
            if last and author is not None:
                by = author
            else:
                by = _author(rng, row, ops[i], st, T, R)
            remind = nxt is not None and r() < (0.35 if last else 0.1)
            remind_at = None
            if remind:
                remind_at = nxt - dt.timedelta(minutes=(0, 10, 15, 30)[int(r() * 4)])
            # the stage the customer was in at that call, rising towards today's stage
            rec_stage = st if cur <= 1 else STAGES[min(cur, 1 + (cur - 1) * (j + 1) // len(days))]
            contact_idx = my_contacts[int(r() * len(my_contacts))] if my_contacts else None
            if contact_idx is not None:
                person = contact_rows[contact_idx]["name"]
            note = fd.contact_note(rng, rec_stage, person, first=(j == 0))
            if note == previous_note:
                note = fd.contact_note(rng, rec_stage, person)
            previous_note = note
            record_rows.append({
                "customer_id": None, "user_id": by, "contact_id": None,
                "method": fd.contact_method(rng),
                "content": note,
                "progress": fd.progress(rng, rec_stage, first=(j == 0)),
                "contacted_at": when, "next_callback_at": nxt,
                "remind": remind, "remind_at": remind_at,
                "reminded_at": remind_at if remind_at is not None and remind_at <= now else None,
                "created_at": when, "updated_at": when})
            record_owner.append(i)
            record_contact.append(contact_idx)
        latest = record_rows[-1]
        row["contact_mark"] = "contacted"
        row["last_contacted_at"] = latest["contacted_at"]
        row["next_callback_at"] = latest["next_callback_at"]
        row["updated_at"] = max(row["updated_at"], latest["contacted_at"])

    # ---- insert customers, operators, history, contacts, records -------------------------------
    customer_ids = _bulk(session, Customer, rows, ids=True)
    _bulk(session, CustomerOperator,
          [{"customer_id": cid, "user_id": uid}
           for cid, row, uids in zip(customer_ids, rows, ops)
           if row["ownership"] != "shared" for uid in uids])
    _bulk(session, OperatorHistory,
          [{"customer_id": cid, "actor_id": row["created_by_id"], "action": "create",
            "from_mode": None, "to_mode": row["ownership"], "from_operators": [],
            "to_operators": sorted(uids) if row["ownership"] != "shared" else [],
            "at": row["created_at"]}
           for cid, row, uids in zip(customer_ids, rows, ops)])
    log_stage_rows(session, _stage_history(customer_ids, rows, ops))
    for crow, i in zip(contact_rows, contact_owner):
        crow["customer_id"] = customer_ids[i]
    contact_ids = _bulk(session, Contact, contact_rows, ids=True)
    for rec, i, c in zip(record_rows, record_owner, record_contact):
        rec["customer_id"] = customer_ids[i]
        rec["contact_id"] = contact_ids[c] if c is not None else None
    _bulk(session, ContactRecord, record_rows)

    # ---- opportunities and orders --------------------------------------------------------------
    opp_rows: list[dict] = []
    opp_items: list[list[dict]] = []
    order_rows: list[dict] = []
    order_items: list[list[dict]] = []
    order_opp: list[int | None] = []       # index into opp_rows
    followups: list[list[dict]] = []
    for i, row in enumerate(rows):
        st = row["stage"]
        if st not in ("opportunity", "closed"):
            continue
        seller = next((u for u in ops[i] if u in R), ops[i][0] if ops[i] else pick(R))
        if row["ownership"] == "shared":
            seller = pick(R)
        since = max(row["created_at"], row["stage_changed_at"] - dt.timedelta(days=30))
        if st == "opportunity":
            x = r()
            n_opps = 0 if x < 0.15 else (1 if x < 0.85 else 2)
            for n in range(n_opps):
                if row["tracking_mark"] == "paused":
                    state = "paused"
                elif n_opps == 2 and n == 0:
                    state = "ended" if r() < 0.5 else "paused"
                else:
                    state = _weighted(rng, (("selling", 65), ("paused", 20), ("ended", 15)))
                opp, items = _opportunity(rng, row, seller, state, since, now, today,
                                          products, callback_time, day_of)
                opp["customer_id"] = i      # replaced by the id below
                opp_rows.append(opp)
                opp_items.append(items)
            continue
        # closed: orders, the first often born from an opportunity
        n_orders = 1 if r() < 0.75 else (2 if r() < 0.8 else 3)
        first_day = min(0, day_of(row["stage_changed_at"]))
        order_days = sorted([first_day] + [first_day + int(r() * (1 - first_day))
                                           for _ in range(n_orders - 1)])
        for n, oday in enumerate(order_days):
            ordered_on = today + dt.timedelta(days=oday)
            opp_index = None
            if n == 0 and r() < 0.6:
                opp, items = _opportunity(rng, row, seller, "paused", since,
                                          min(now, at(oday, 540)), today, products,
                                          callback_time, day_of)
                opp["customer_id"] = i      # replaced by the id below
                opp_rows.append(opp)
                opp_items.append(items)
                opp_index = len(opp_rows) - 1
                items = [dict(item) for item in items]
            else:
                items = _items(rng, products)
            follower = seller if r() < 0.5 else pick(T + R)
            order, fups = _order(rng, ordered_on, oday, seller, follower, items, now, today,
                                 work_time, callback_time)
            order_rows.append(order)
            order_items.append(items)
            order_opp.append(opp_index)
            followups.append(fups)
            order["customer_id"] = i      # replaced by the id below

    for opp in opp_rows:
        opp["customer_id"] = customer_ids[opp["customer_id"]]
    opp_ids = _bulk(session, Opportunity, opp_rows, ids=True)
    _bulk(session, OpportunityItem,
          [{"opportunity_id": oid, **item} for oid, items in zip(opp_ids, opp_items)
           for item in items])

    # order numbers: SO<date>-<sequence of the day>
    per_day: Counter = Counter()
    for k in sorted(range(len(order_rows)), key=lambda k: (order_rows[k]["ordered_on"], k)):
        order = order_rows[k]
        per_day[order["ordered_on"]] += 1
        order["number"] = "SO%s-%04d" % (order["ordered_on"].strftime("%Y%m%d"),
                                         per_day[order["ordered_on"]])
    for order, opp_index in zip(order_rows, order_opp):
        order["customer_id"] = customer_ids[order["customer_id"]]
        order["opportunity_id"] = opp_ids[opp_index] if opp_index is not None else None
    order_ids = _bulk(session, Order, order_rows, ids=True)
    _bulk(session, OrderItem, [{"order_id": oid, **item}
                               for oid, items in zip(order_ids, order_items) for item in items])
    followup_rows = [{"order_id": oid, **fup} for oid, fups in zip(order_ids, followups)
                     for fup in fups]
    _bulk(session, OrderFollowUp, followup_rows)

    # ---- sales-assistant material --------------------------------------------------------------
    scripts = []
    for n, (st, title, body) in enumerate(_REFERENCE_SCRIPTS):
        when = (now - dt.timedelta(days=300 - n)).replace(microsecond=0)
        scripts.append({"kind": "reference", "owner_id": None, "title": title, "body": body,
                        "stage": st, "created_at": when, "updated_at": when})
    for n, (title, body) in enumerate(_PERSONAL_SCRIPTS):
        owner = (T + R)[n * 2 % len(T + R)]
        when = (now - dt.timedelta(days=40 - 7 * n)).replace(microsecond=0)
        scripts.append({"kind": "personal", "owner_id": owner, "title": title, "body": body,
                        "stage": None, "created_at": when, "updated_at": when})
    _bulk(session, CallScript, scripts)
    _bulk(session, Competitor, [{"name": name, "website": None, "products": prods,
                                 "strengths": good, "weaknesses": bad, "note": None}
                                for name, prods, good, bad in _COMPETITORS])
    _bulk(session, ResourceSite, [{"name": name, "url": url, "note": note, "sort_order": n}
                                  for n, (name, url, note) in enumerate(_RESOURCE_SITES)])
    docs = []
    for n, (title, filename, ctype) in enumerate(_DOCUMENTS):
        docs.append({"customer_id": None, "title": title, "filename": filename,
                     "content_type": ctype, "size": 80_000 + int(r() * 2_000_000),
                     "storage_key": "demo/" + filename, "uploaded_by_id": admin_id,
                     "created_at": (now - dt.timedelta(days=200 - 30 * n)).replace(microsecond=0)})
    _bulk(session, Document, docs)
    _bulk(session, ImportTemplate, [{"name": _IMPORT_TEMPLATE[0], "owner_id": admin_id,
                                     "mapping": _IMPORT_TEMPLATE[1], "header_rows": 1,
                                     "created_at": now.replace(microsecond=0)}])
    session.flush()
    campaign = _demo_campaign(session, admin_id, T, clock)
    voice_campaign = _demo_voice_campaign(session, admin_id, clock)
    _demo_sms(session, admin_id, clock)

    return {
        "seed": seed,
        "users": users_out,
        "customers": len(rows),
        "stages": {(st or "archive"): n for st, n in
                   sorted(Counter(row["stage"] for row in rows).items(),
                          key=lambda kv: order_of_stage[kv[0]] if kv[0] else -1)},
        "ownership": dict(sorted(Counter(row["ownership"] for row in rows).items())),
        "customer_operators": sum(len(u) for row, u in zip(rows, ops)
                                  if row["ownership"] != "shared"),
        "contacts": len(contact_rows),
        "contact_records": len(record_rows),
        "products": len(products),
        "opportunities": len(opp_rows),
        "orders": len(order_rows),
        "order_follow_ups": len(followup_rows),
        "call_scripts": len(scripts),
        "competitors": len(_COMPETITORS),
        "resource_sites": len(_RESOURCE_SITES),
        "documents": len(docs),
        "campaign_leads": campaign,
        "voice_campaign_leads": voice_campaign,
    }


def _demo_campaign(session: Session, admin_id: int, team: list[int], clock) -> int:
    """A predictive campaign over the shared target customers, left in draft: a manager starts
    it from the campaign page and the telemarketers go ready in their dialer panel."""
    from models.dialer import campaigns
    admin = session.get(User, admin_id)
    campaign = campaigns.create_campaign(session, admin, clock=clock, name="演示:共享目标客户外呼",
                                         mode="predictive", filter_stage="target",
                                         filter_ownership="shared", caller_id="4008001234")
    campaigns.set_team(session, admin, campaign.id, team)
    return campaigns.refresh_leads(session, campaign, clock=clock)


def _demo_voice_campaign(session: Session, admin_id: int, clock) -> int:
    """A voice campaign (T9) that needs no agents: a payment reminder to the closed customers,
    10 lines, machines hung up on; left in draft for a manager to start."""
    from models.dialer import campaigns
    admin = session.get(User, admin_id)
    campaign = campaigns.create_campaign(session, admin, clock=clock, name="演示:回款提醒语音外呼",
                                         mode="voice", ivr_flow="payment_reminder", max_lines=10,
                                         machine_action="hangup", filter_stage="closed",
                                         caller_id="4008001234")
    return campaigns.refresh_leads(session, campaign, clock=clock)


_SMS_TEMPLATES = (
    ("发送公司地址", "{contact_name}您好，我是{salesperson_name}。我司地址：{company_address}，"
     "电话{salesperson_phone}，欢迎来访。"),
    ("发送公司网址", "{contact_name}您好，公司介绍和产品资料请见{company_website}，有问题请致电"
     "{salesperson_phone}。"),
    ("订单确认", "{customer_name}：您的订单{order_number}（金额{order_amount}）已确认，我们会尽快安排发货。"),
)


def _demo_sms(session: Session, admin_id: int, clock) -> None:
    """The company's SMS details and three templates a salesperson picks in the SMS form."""
    from models.sms.config import update_sms_settings
    from models.sms.templates import save_template
    update_sms_settings(session, {"address": "上海市徐汇区漕溪北路88号圣爱大厦12楼",
                                  "website": "https://www.example.com.cn", "phone": "021-64871234"})
    admin = session.get(User, admin_id)
    for name, body in _SMS_TEMPLATES:
        save_template(session, admin, {"name": name, "body": body}, clock=clock)


# ------------------------------------------------------------------------------------------------
# helpers


def _stage_history(customer_ids: list[int], rows: list[dict],
                   ops: list[list[int]]) -> list[dict]:
    """Stage history of the demo customers: created one stage lower when the stage changed
    after creation, then moved up by an operator (the creator for a shared customer)."""
    out = []
    for cid, row, uids in zip(customer_ids, rows, ops):
        stage = row["stage"]
        if stage is None:
            continue
        moved = stage != "reserve" and row["stage_changed_at"] > row["created_at"]
        first = STAGES[STAGES.index(stage) - 1] if moved else stage
        out.append({"customer_id": cid, "from_stage": None, "to_stage": first,
                    "actor_id": row["created_by_id"], "kind": "create", "at": row["created_at"]})
        if moved:
            out.append({"customer_id": cid, "from_stage": first, "to_stage": stage,
                        "actor_id": uids[0] if uids else row["created_by_id"],
                        "kind": "screen" if first == "reserve" else "promote",
                        "at": row["stage_changed_at"]})
    return out


def _operators(rng: random.Random, stage: str | None, ownership: str, T: list[int],
               R: list[int], M: list[int]) -> list[int]:
    """Operators for a customer: telemarketers work the lower stages, sales reps the higher."""
    r = rng.random
    if ownership == "shared":
        return []
    rep_share = {None: 0.3, "reserve": 0.25, "target": 0.25, "potential": 0.5,
                 "opportunity": 0.8, "closed": 0.85}[stage]
    if ownership == "personal":
        pool = R if r() < rep_share else T
        return [pool[int(r() * len(pool))]]
    chosen = [T[int(r() * len(T))], R[int(r() * len(R))]]
    if r() < 0.3:
        pool = [u for u in (M + T + R) if u not in chosen]
        chosen.append(pool[int(r() * len(pool))])
    return sorted(chosen)


def _author(rng: random.Random, row: dict, ops: list[int], stage: str | None, T: list[int],
            R: list[int]) -> int:
    """Who made a contact record: an operator, or any telemarketer for a shared customer."""
    if row["ownership"] != "shared" and ops:
        return ops[int(rng.random() * len(ops))]
    pool = T if stage in (None, "reserve", "target") else T + R
    return pool[int(rng.random() * len(pool))]


def _quarter(when: dt.datetime) -> dt.datetime:
    return when.replace(minute=when.minute - when.minute % 15, second=0, microsecond=0)


def _latest_days(rng: random.Random, bucket: str) -> tuple[int, int | None]:
    """(day of the latest contact, day of the next callback), in days from today."""
    def ri(a: int, b: int) -> int:
        return a + int(rng.random() * (b - a + 1))

    if bucket == "today":
        x = rng.random()
        return 0, (1 if x < 0.3 else ri(2, 6) if x < 0.7 else ri(7, 30))
    if bucket == "cb_today":
        return -ri(1, 14), 0
    if bucket == "tomorrow":
        return -ri(1, 14), 1
    if bucket == "week":
        return -ri(1, 20), ri(2, 6)
    if bucket == "month":
        return -ri(1, 40), ri(7, 30)
    if bucket == "yesterday":
        return -1 - ri(1, 10), -1
    if bucket == "overdue":
        cb = -ri(2, 7)
        return cb - ri(1, 10), cb
    return -ri(1, 59), None


def _items(rng: random.Random, products: list[Product]) -> list[dict]:
    """1-3 order lines: a system, maybe seats, hardware or services, at a small discount."""
    r = rng.random
    chosen = rng.sample(products, 1 + int(r() * 3))
    items = []
    for p in chosen:
        if p.code == "DM-SEAT" or p.code == "DM-CLOUD":
            qty = (5, 10, 10, 15, 20, 30, 50)[int(r() * 7)]
        elif p.unit in ("台", "副"):
            qty = (2, 4, 8, 10, 20, 30)[int(r() * 6)]
        elif p.unit == "人天":
            qty = 1 + int(r() * 5)
        else:
            qty = 1
        discount = Decimal((100, 95, 90, 88, 85, 80)[int(r() * 6)]) / 100
        unit_price = (p.price * discount).quantize(Decimal("1"))
        items.append({"product_id": p.id, "product_name": p.name,
                      "quantity": Decimal(qty), "unit_price": Decimal(unit_price)})
    return items


def _opportunity(rng, row, owner, state, since, until, today, products, callback_time, day_of):
    r = rng.random
    until = max(since, until)
    created = since + (until - since) * (0.2 + 0.7 * r())
    created = created.replace(second=0, microsecond=0)
    items = _items(rng, products)
    amount = sum((it["quantity"] * it["unit_price"] for it in items), Decimal("0"))
    if state == "selling":
        expected = today + dt.timedelta(days=7 + int(r() * 54))
        nxt = row["next_callback_at"]
        if nxt is None or nxt < until:
            nxt = callback_time(1 + int(r() * 14))
    elif state == "paused":
        expected = today + dt.timedelta(days=30 + int(r() * 60))
        nxt = None
    else:
        expected = today - dt.timedelta(days=5 + int(r() * 55))
        nxt = None
    if day_of(until) < 0:   # an opportunity that became an order in the past
        expected = min(expected, today + dt.timedelta(days=day_of(until)))
    updated = max(created, row["last_contacted_at"] or created)
    return ({"customer_id": None, "owner_id": owner,
             "title": row["keyword"][:2] + _OPPORTUNITY_KINDS[int(r() * len(_OPPORTUNITY_KINDS))],
             "amount": amount, "expected_close_on": expected, "state": state,
             "next_callback_at": nxt,
             "note": "客户关注录音和外呼效率，报价含一年维护。" if r() < 0.3 else None,
             "created_at": created, "updated_at": updated}, items)


def _order(rng, ordered_on, oday, seller, follower, items, now, today, work_time, callback_time):
    r = rng.random
    age = -oday
    if age >= 45:
        state = _weighted(rng, (("done", 80), ("paused", 10), ("in_progress", 10)))
    else:
        state = _weighted(rng, (("in_progress", 60), ("done", 30), ("paused", 10)))

    def after(lo: int, hi: int) -> dt.date:
        return min(today, ordered_on + dt.timedelta(days=lo + int(r() * (hi - lo + 1))))

    if state == "done":
        payment, shipping = "paid", "shipped"
    elif state == "paused":
        payment = "unpaid" if r() < 0.6 else "partial"
        shipping = "unshipped" if r() < 0.7 else "partial"
    else:
        payment = _weighted(rng, (("unpaid", 40), ("partial", 35), ("paid", 25)))
        shipping = _weighted(rng, (("unshipped", 40), ("partial", 20), ("shipped", 40)))
    paid_on = after(3, 30) if payment != "unpaid" else None
    shipped_on = after(1, 10) if shipping != "unshipped" else None
    created = work_time(oday)
    n_fups = 1 + int(r() * 4)
    fup_days = sorted(oday + int(r() * (age + 1)) for _ in range(n_fups))
    fups = []
    for n, d in enumerate(fup_days):
        when = max(created, work_time(d))
        last = n == len(fup_days) - 1
        nxt = None
        if last and state == "in_progress":
            nxt = callback_time(int(r() * 8), after_now=True)
        remind = nxt is not None and r() < 0.3
        remind_at = nxt - dt.timedelta(minutes=15) if remind else None
        fups.append({"user_id": follower, "content": fd.order_note(rng), "next_callback_at": nxt,
                     "remind": remind, "remind_at": remind_at, "created_at": when})
    amount = sum((it["quantity"] * it["unit_price"] for it in items), Decimal("0"))
    order = {"number": None, "customer_id": None, "opportunity_id": None,
             "seller_id": seller, "follower_id": follower, "ordered_on": ordered_on,
             "payment_status": payment, "paid_on": paid_on, "shipping_status": shipping,
             "shipped_on": shipped_on, "state": state, "amount": amount,
             "next_callback_at": fups[-1]["next_callback_at"],
             "note": "客户要求开具增值税专用发票。" if r() < 0.2 else None,
             "created_at": created, "updated_at": max(f["created_at"] for f in fups)}
    return order, fups
