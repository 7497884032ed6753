"""Deterministic fake data for a Chinese telemarketing CRM.

Every generator takes a `random.Random` and draws from it only, so the same seed gives the same
data. The generators are plain table look-ups (no phonenumbers calls, no regexes) so that a bulk
loader can make a million customer rows in well under a minute.

Company names are unique by construction: `company_name(index, city)` maps `index` through a
bijection onto (brand, industry word, legal suffix) combinations; the city prefix comes from a
prefix-free set, so two different indexes never give the same name whatever cities are drawn.
Past `NAME_SPACE` indexes a branch marker (第二分公司...) keeps names unique for any index.

Phone numbers are valid Chinese numbers (checked against `phonenumbers` in the tests): mobiles use
allocated prefixes, landlines use the city's real area code and subscriber-number length.
`e164()` gives the same result as `models.phones.normalize_phone` for every number made here,
without the cost of parsing (the tests check the two agree).
"""
from __future__ import annotations

import datetime as dt
import random
from math import gcd
from typing import Any, NamedTuple

from models.names import name_key

# --------------------------------------------------------------------------------------------
# People

# Surnames with rough weights (the most common ones first).
_SURNAMES_WEIGHTED = [
    ("王", 30), ("李", 30), ("张", 28), ("刘", 22), ("陈", 20), ("杨", 12), ("黄", 10), ("赵", 9),
    ("吴", 8), ("周", 8), ("徐", 6), ("孙", 6), ("马", 6), ("朱", 5), ("胡", 5), ("郭", 5),
    ("何", 4), ("林", 4), ("高", 4), ("罗", 4), ("郑", 4), ("梁", 4), ("谢", 3), ("宋", 3),
    ("唐", 3), ("许", 3), ("韩", 3), ("冯", 3), ("邓", 3), ("曹", 3), ("彭", 2), ("曾", 2),
    ("肖", 2), ("田", 2), ("董", 2), ("潘", 2), ("袁", 2), ("蔡", 2), ("蒋", 2), ("余", 2),
    ("于", 2), ("杜", 2), ("叶", 2), ("程", 2), ("魏", 2), ("苏", 2), ("吕", 2), ("丁", 2),
    ("任", 2), ("卢", 2), ("姚", 2), ("沈", 2), ("钟", 2), ("姜", 2), ("崔", 1), ("谭", 1),
    ("陆", 1), ("范", 1), ("汪", 1), ("廖", 1), ("石", 1), ("金", 1), ("韦", 1), ("贾", 1),
    ("夏", 1), ("付", 1), ("方", 1), ("邹", 1), ("熊", 1), ("白", 1), ("孟", 1), ("秦", 1),
    ("邱", 1), ("侯", 1), ("江", 1), ("尹", 1), ("薛", 1), ("段", 1), ("雷", 1), ("龙", 1),
    ("黎", 1), ("史", 1), ("陶", 1), ("贺", 1), ("毛", 1), ("郝", 1), ("顾", 1), ("龚", 1),
    ("邵", 1), ("万", 1), ("钱", 1), ("戴", 1), ("严", 1), ("欧阳", 1), ("上官", 1),
]
SURNAMES = tuple(s for s, _ in _SURNAMES_WEIGHTED)
_SURNAME_TABLE = tuple(s for s, w in _SURNAMES_WEIGHTED for _ in range(w))

_GIVEN_MALE = tuple("伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林欢阳建国志成峰"
                    "亮文博晨海东华兵晖毅忠德义斌涛坤")
_GIVEN_FEMALE = tuple("芳娜敏静丽艳娟霞秀玲桂英华慧巧美娅琳洁婷雪倩颖琴云莉萍红燕晶佳欣月悦"
                      "梅兰凤秋蓉岚薇丹彤")
# Two-character given names that read naturally.
_GIVEN_DOUBLE = (
    "建华", "建国", "志强", "志明", "晓东", "晓明", "晓燕", "晓红", "海涛", "海峰", "国强", "国栋",
    "文静", "文杰", "丽娟", "丽华", "秀英", "秀兰", "玉兰", "春梅", "春华", "冬梅", "雪梅", "红梅",
    "俊杰", "子豪", "子涵", "梓涵", "欣怡", "思远", "思雨", "雨轩", "浩然", "宇航", "嘉怡", "佳琪",
    "家豪", "天宇", "明轩", "一鸣", "永刚", "永强", "卫东", "红光", "振华", "立新", "雅琴", "美玲",
    "慧敏", "婷婷", "丹丹", "磊磊", "亚楠", "新民", "德华", "少华", "金龙", "宏伟", "春燕", "海燕",
)


def person_name(rng: random.Random) -> str:
    """A common Chinese full name: surname + one or two given characters."""
    r = rng.random
    surname = _SURNAME_TABLE[int(r() * len(_SURNAME_TABLE))]
    x = r()
    if x < 0.45:                                   # a set two-character given name
        return surname + _GIVEN_DOUBLE[int(r() * len(_GIVEN_DOUBLE))]
    pool = _GIVEN_MALE if x < 0.75 else _GIVEN_FEMALE
    if r() < 0.5:                                  # one character: 王伟, 李娜
        return surname + pool[int(r() * len(pool))]
    return surname + pool[int(r() * len(pool))] + pool[int(r() * len(pool))]


_TITLES_WEIGHTED = [
    ("总经理", 10), ("副总经理", 4), ("经理", 12), ("采购经理", 10), ("采购主管", 8),
    ("采购专员", 5), ("行政经理", 6), ("行政主管", 5), ("办公室主任", 4), ("技术总监", 4),
    ("IT经理", 5), ("财务经理", 3), ("市场总监", 3), ("销售总监", 4), ("客服主管", 4),
    ("总经理助理", 4), ("董事长", 2), ("运营总监", 2), ("厂长", 2), ("前台", 1),
]
TITLES = tuple(t for t, _ in _TITLES_WEIGHTED)
_TITLE_TABLE = tuple(t for t, w in _TITLES_WEIGHTED for _ in range(w))

DEPARTMENTS = ("总经办", "采购部", "行政部", "技术部", "信息部", "财务部", "市场部", "销售部",
               "客服部", "运营部")


def title(rng: random.Random) -> str:
    return _TITLE_TABLE[int(rng.random() * len(_TITLE_TABLE))]


def department(rng: random.Random) -> str:
    return DEPARTMENTS[int(rng.random() * len(DEPARTMENTS))]


# --------------------------------------------------------------------------------------------
# Places and phone numbers


class City(NamedTuple):
    province: str          # short name, as users type it in queries: 广东
    city: str              # short name: 深圳
    area_code: str         # with the trunk 0: 0755
    subscriber_len: int    # digits after the area code (7 or 8), per the national plan
    name_prefix: str       # as it starts a company name: 深圳市
    address_prefix: str    # as it starts an address: 广东省深圳市
    districts: tuple[str, ...]
    weight: int            # how many leads come from there


def _city(province, city, code, length, weight, districts, *, prefix=None, prov_full=None,
          municipality=False):
    prov_full = prov_full or (province + ("市" if municipality else "省"))
    address_prefix = prov_full if municipality else prov_full + city + "市"
    return City(province, city, code, length, prefix or (city if municipality else city + "市"),
                address_prefix, tuple(districts.split()), weight)


CITIES: tuple[City, ...] = (
    _city("北京", "北京", "010", 8, 40, "朝阳区 海淀区 东城区 西城区 丰台区 昌平区 大兴区",
          prefix="北京", municipality=True),
    _city("上海", "上海", "021", 8, 40, "浦东新区 徐汇区 闵行区 静安区 长宁区 普陀区 宝山区 嘉定区",
          prefix="上海", municipality=True),
    _city("天津", "天津", "022", 8, 10, "和平区 河西区 南开区 滨海新区 西青区",
          prefix="天津", municipality=True),
    _city("重庆", "重庆", "023", 8, 10, "渝中区 江北区 南岸区 渝北区 九龙坡区",
          prefix="重庆", municipality=True),
    _city("广东", "广州", "020", 8, 30, "天河区 越秀区 海珠区 白云区 番禺区 黄埔区"),
    _city("广东", "深圳", "0755", 8, 35, "南山区 福田区 罗湖区 宝安区 龙岗区 龙华区"),
    _city("广东", "东莞", "0769", 8, 14, "南城街道 东城街道 长安镇 虎门镇 松山湖"),
    _city("广东", "佛山", "0757", 8, 12, "禅城区 南海区 顺德区 三水区"),
    _city("广东", "珠海", "0756", 7, 5, "香洲区 金湾区 斗门区"),
    _city("广东", "中山", "0760", 8, 5, "石岐街道 东区街道 火炬开发区 小榄镇"),
    _city("广东", "惠州", "0752", 7, 5, "惠城区 惠阳区 仲恺高新区"),
    _city("广东", "汕头", "0754", 8, 4, "金平区 龙湖区 澄海区"),
    _city("江苏", "南京", "025", 8, 14, "鼓楼区 玄武区 秦淮区 建邺区 江宁区"),
    _city("江苏", "苏州", "0512", 8, 16, "姑苏区 工业园区 吴中区 相城区 高新区"),
    _city("江苏", "无锡", "0510", 8, 8, "梁溪区 滨湖区 新吴区 锡山区"),
    _city("江苏", "常州", "0519", 8, 6, "天宁区 钟楼区 新北区 武进区"),
    _city("江苏", "南通", "0513", 8, 4, "崇川区 通州区 海门区"),
    _city("江苏", "徐州", "0516", 8, 4, "云龙区 鼓楼区 泉山区"),
    _city("浙江", "杭州", "0571", 8, 20, "西湖区 上城区 拱墅区 滨江区 余杭区 萧山区"),
    _city("浙江", "宁波", "0574", 8, 9, "海曙区 江北区 鄞州区 北仑区"),
    _city("浙江", "温州", "0577", 8, 7, "鹿城区 龙湾区 瓯海区"),
    _city("浙江", "嘉兴", "0573", 8, 3, "南湖区 秀洲区"),
    _city("浙江", "绍兴", "0575", 8, 3, "越城区 柯桥区 上虞区"),
    _city("浙江", "金华", "0579", 8, 4, "婺城区 金东区 义乌市"),
    _city("浙江", "台州", "0576", 8, 3, "椒江区 黄岩区 路桥区"),
    _city("山东", "济南", "0531", 8, 8, "历下区 市中区 槐荫区 天桥区 历城区"),
    _city("山东", "青岛", "0532", 8, 9, "市南区 市北区 李沧区 崂山区 黄岛区"),
    _city("山东", "烟台", "0535", 7, 4, "芝罘区 莱山区 福山区"),
    _city("山东", "潍坊", "0536", 7, 4, "奎文区 潍城区 高新区"),
    _city("福建", "福州", "0591", 8, 7, "鼓楼区 台江区 仓山区 晋安区"),
    _city("福建", "厦门", "0592", 7, 7, "思明区 湖里区 集美区 海沧区"),
    _city("福建", "泉州", "0595", 8, 5, "丰泽区 鲤城区 洛江区 晋江市"),
    _city("湖北", "武汉", "027", 8, 14, "江汉区 武昌区 洪山区 江岸区 汉阳区 东湖高新区"),
    _city("湖北", "宜昌", "0717", 7, 3, "西陵区 伍家岗区 夷陵区"),
    _city("湖南", "长沙", "0731", 8, 10, "岳麓区 芙蓉区 天心区 开福区 雨花区"),
    _city("四川", "成都", "028", 8, 16, "武侯区 锦江区 青羊区 金牛区 成华区 高新区"),
    _city("四川", "绵阳", "0816", 7, 3, "涪城区 游仙区 高新区"),
    _city("陕西", "西安", "029", 8, 10, "雁塔区 碑林区 新城区 莲湖区 未央区 高新区"),
    _city("辽宁", "沈阳", "024", 8, 7, "和平区 沈河区 皇姑区 铁西区 浑南区"),
    _city("辽宁", "大连", "0411", 8, 6, "中山区 西岗区 沙河口区 甘井子区"),
    _city("河南", "郑州", "0371", 8, 9, "金水区 二七区 中原区 管城回族区 郑东新区"),
    _city("河南", "洛阳", "0379", 8, 3, "西工区 老城区 涧西区 洛龙区"),
    _city("河北", "石家庄", "0311", 8, 5, "长安区 桥西区 新华区 裕华区"),
    _city("河北", "唐山", "0315", 7, 3, "路北区 路南区 开平区"),
    _city("安徽", "合肥", "0551", 8, 7, "蜀山区 包河区 庐阳区 瑶海区 高新区"),
    _city("安徽", "芜湖", "0553", 7, 3, "镜湖区 鸠江区 弋江区"),
    _city("江西", "南昌", "0791", 8, 5, "东湖区 西湖区 青山湖区 红谷滩区"),
    _city("黑龙江", "哈尔滨", "0451", 8, 4, "南岗区 道里区 道外区 香坊区"),
    _city("吉林", "长春", "0431", 8, 4, "朝阳区 南关区 宽城区 绿园区"),
    _city("山西", "太原", "0351", 7, 4, "小店区 迎泽区 杏花岭区 万柏林区"),
    _city("云南", "昆明", "0871", 8, 4, "五华区 盘龙区 官渡区 西山区"),
    _city("广西", "南宁", "0771", 7, 4, "青秀区 兴宁区 西乡塘区 江南区",
          prov_full="广西壮族自治区"),
    _city("贵州", "贵阳", "0851", 8, 3, "南明区 云岩区 观山湖区"),
    _city("海南", "海口", "0898", 8, 3, "龙华区 美兰区 秀英区"),
    _city("甘肃", "兰州", "0931", 7, 2, "城关区 七里河区 安宁区"),
    _city("内蒙古", "呼和浩特", "0471", 7, 2, "新城区 赛罕区 回民区",
          prov_full="内蒙古自治区"),
    _city("新疆", "乌鲁木齐", "0991", 7, 2, "天山区 沙依巴克区 新市区",
          prov_full="新疆维吾尔自治区"),
    _city("宁夏", "银川", "0951", 7, 1, "兴庆区 金凤区 西夏区", prov_full="宁夏回族自治区"),
    _city("青海", "西宁", "0971", 7, 1, "城东区 城中区 城西区"),
)
_CITY_TABLE = tuple(c for c in CITIES for _ in range(c.weight))
# Company-name uniqueness relies on no city prefix being the start of another one.
assert not any(a.name_prefix != b.name_prefix and b.name_prefix.startswith(a.name_prefix)
               for a in CITIES for b in CITIES), "city name prefixes must be prefix-free"
PROVINCE_CITIES: tuple[tuple[str, str], ...] = tuple((c.province, c.city) for c in CITIES)
AREA_CODES: dict[str, str] = {c.city: c.area_code for c in CITIES}


def city(rng: random.Random) -> City:
    """A city, weighted by how many businesses a telemarketing team finds there."""
    return _CITY_TABLE[int(rng.random() * len(_CITY_TABLE))]


# Mobile prefixes of China Mobile / Unicom / Telecom / Broadnet, weighted by how often they
# are seen. Every one of them is valid for all 8 following digits (checked by the tests).
_MOBILE_PREFIXES_WEIGHTED = [
    ("138", 8), ("139", 8), ("136", 6), ("137", 6), ("135", 6), ("134", 4), ("130", 4),
    ("131", 4), ("132", 4), ("133", 4), ("150", 5), ("151", 5), ("152", 4), ("153", 3),
    ("155", 3), ("156", 4), ("157", 3), ("158", 5), ("159", 5), ("180", 3), ("181", 3),
    ("182", 4), ("183", 3), ("184", 1), ("185", 3), ("186", 6), ("187", 4), ("188", 4),
    ("189", 5), ("166", 2), ("173", 2), ("175", 1), ("176", 2), ("177", 2), ("178", 2),
    ("191", 2), ("193", 1), ("195", 1), ("198", 2), ("199", 2), ("147", 1), ("145", 1),
]
MOBILE_PREFIXES = tuple(p for p, _ in _MOBILE_PREFIXES_WEIGHTED)
_MOBILE_TABLE = tuple(p for p, w in _MOBILE_PREFIXES_WEIGHTED for _ in range(w))


def mobile(rng: random.Random) -> str:
    """An 11-digit mainland mobile number, e.g. 13812345678."""
    r = rng.random
    return _MOBILE_TABLE[int(r() * len(_MOBILE_TABLE))] + "%08d" % int(r() * 100_000_000)


def landline(rng: random.Random, where: City | None = None) -> str:
    """A fixed-line number of the city, area code and subscriber number: 021-62345678,
    0592-5123456. Subscriber numbers start with 2-8 as real ones do."""
    where = where or city(rng)
    if where.subscriber_len == 8:
        sub = 20_000_000 + int(rng.random() * 70_000_000)
        if 80_000_000 <= sub < 80_100_000:   # 800xxxxx is the toll-free block, not a landline
            sub += 100_000
    else:
        sub = 2_000_000 + int(rng.random() * 7_000_000)
    return "%s-%d" % (where.area_code, sub)


def e164(number: str | None) -> str | None:
    """E.164 of a number made by this module ("021-62345678" -> "+862162345678");
    equal to `models.phones.normalize_phone(number)` for such numbers, but 50x faster."""
    if not number:
        return None
    digits = number.replace("-", "").replace(" ", "")
    if digits[0] == "0":
        digits = digits[1:]
    return "+86" + digits


def qq(rng: random.Random) -> str:
    """A QQ number: 6 to 10 digits, never starting with 0."""
    x = rng.random()
    if x < 0.15:
        return str(10_000_000 + int(rng.random() * 89_999_999))
    if x < 0.25:
        return str(100_000 + int(rng.random() * 899_999))
    return str(100_000_000 + int(rng.random() * 2_900_000_000))


# --------------------------------------------------------------------------------------------
# Industries, categories, sources

INDUSTRIES = ("软件", "制造", "贸易", "教育", "医疗", "物流", "餐饮", "建筑", "金融", "广告",
              "电子", "化工", "服装", "汽车", "房地产", "环保", "农业", "印刷包装")

# industry -> (name words with their pinyin initials, what such a company does, suffixes)
_T, _S, _G, _E = "科技有限公司", "股份有限公司", "集团有限公司", "设备有限公司"
_INDUSTRY_WORDS: dict[str, tuple[tuple[tuple[str, str], ...], str, tuple[str, ...]]] = {
    "软件": ((("软件", "rj"), ("信息", "xx"), ("网络", "wl"), ("数据", "sj"), ("智能", "zn"),
             ("计算机", "jsj"), ("数码", "sm")),
            "企业管理软件开发、系统集成与信息技术服务", ("有限公司", _T, "技术有限公司", _S)),
    "制造": ((("机械", "jx"), ("机电", "jd"), ("精密", "jm"), ("模具", "mj"), ("五金", "wj"),
             ("自动化", "zdh"), ("仪器仪表", "yqyb"), ("工业", "gy"), ("阀门", "fm"),
             ("轴承", "zc")),
            "机械设备及零部件的研发、生产与销售", ("有限公司", _T, _S, _E, "制造有限公司")),
    "贸易": ((("贸易", "my"), ("进出口", "jck"), ("商贸", "sm"), ("国际贸易", "gjmy"),
             ("实业", "sy")),
            "日用百货、电子产品及工业原料的批发与进出口贸易", ("有限公司", _G, "有限责任公司")),
    "教育": ((("教育", "jy"), ("培训", "px"), ("文化", "wh"), ("教育咨询", "jyzx")),
            "职业技能培训、企业内训及教育咨询服务", ("有限公司", _T, "发展有限公司")),
    "医疗": ((("医疗器械", "ylqx"), ("医药", "yy"), ("生物", "sw"), ("健康", "jk"),
             ("医疗", "yl")),
            "医疗器械、药品及健康产品的研发与销售", ("有限公司", _T, _S, _E)),
    "物流": ((("物流", "wl"), ("供应链", "gyl"), ("货运", "hy"), ("运输", "ys"),
             ("快运", "ky")),
            "公路运输、仓储配送及供应链管理服务", ("有限公司", _S, _G, "服务有限公司")),
    "餐饮": ((("餐饮", "cy"), ("餐饮管理", "cygl"), ("食品", "sp"), ("酒店管理", "jdgl")),
            "连锁餐饮、团餐配送及食品加工", ("有限公司", "服务有限公司", "连锁有限公司")),
    "建筑": ((("建筑工程", "jzgc"), ("建设工程", "jsgc"), ("装饰工程", "zsgc"), ("建材", "jc"),
             ("钢结构", "gjg"), ("市政工程", "szgc")),
            "建筑施工、装饰装修及建材销售", ("有限公司", _G, _S, "有限责任公司")),
    "金融": ((("投资", "tz"), ("融资租赁", "rzzl"), ("资产管理", "zcgl"), ("保险代理", "bxdl"),
             ("财务咨询", "cwzx")),
            "投资管理、融资租赁及财务咨询服务", ("有限公司", "管理有限公司", _G)),
    "广告": ((("广告", "gg"), ("文化传媒", "whcm"), ("传媒", "cm"), ("品牌策划", "ppch"),
             ("会展", "hz"), ("营销策划", "yxch")),
            "广告设计制作、品牌策划及会展服务", ("有限公司", "服务有限公司", "传播有限公司")),
    "电子": ((("电子", "dz"), ("光电", "gd"), ("通信", "tx"), ("半导体", "bdt"), ("电器", "dq"),
             ("照明", "zm")),
            "电子元器件、通信设备的研发、生产与销售", ("有限公司", _T, _S, _E)),
    "化工": ((("化工", "hg"), ("新材料", "xcl"), ("涂料", "tl"), ("塑胶", "sj"), ("橡胶", "xj")),
            "精细化工产品及新材料的研发、生产与销售", ("有限公司", _T, _S, "制品有限公司")),
    "服装": ((("服饰", "fs"), ("纺织", "fz"), ("制衣", "zy"), ("鞋业", "xy")),
            "服装鞋帽的设计、生产与品牌运营", ("有限公司", _S, "实业有限公司")),
    "汽车": ((("汽车配件", "qcpj"), ("汽车服务", "qcfw"), ("汽车销售", "qcxs"),
             ("汽车租赁", "qczl")),
            "汽车零配件供应、整车销售及售后服务", ("有限公司", _G, "有限责任公司")),
    "房地产": ((("房地产开发", "fdckf"), ("置业", "zy"), ("物业管理", "wygl"),
               ("房产经纪", "fcjj")),
              "房地产开发、物业管理及房产经纪服务", ("有限公司", _G, _S)),
    "环保": ((("环保", "hb"), ("环境工程", "hjgc"), ("节能", "jn"), ("新能源", "xny"),
             ("水处理", "scl")),
            "环保设备、污水处理及节能改造工程", ("有限公司", _T, _S, _E)),
    "农业": ((("农业", "ny"), ("生态农业", "stny"), ("农产品", "ncp"), ("农业开发", "nykf"),
             ("茶业", "cy")),
            "农产品种植、加工与销售", ("有限公司", _S, "发展有限公司")),
    "印刷包装": ((("印刷", "ys"), ("包装", "bz"), ("彩印", "cy"), ("包装材料", "bzcl")),
                "纸品包装、彩色印刷及包装设计", ("有限公司", "制品有限公司", _S)),
}


class _Tail(NamedTuple):
    text: str           # 机械设备有限公司
    word: str           # 机械
    abbr: str           # jx
    industry: str       # 制造
    business: str


def _build_tails() -> tuple[_Tail, ...]:
    seen: set[str] = set()
    tails = []
    for industry, (words, business, suffixes) in _INDUSTRY_WORDS.items():
        for suffix in suffixes:
            for word, abbr in words:
                text = word + suffix
                if text in seen or text.endswith("分公司"):
                    continue  # drop the rare (word, suffix) pairs that spell the same tail
                seen.add(text)
                tails.append(_Tail(text, word, abbr, industry, business))
    return tuple(tails)


_TAILS = _build_tails()

# Brand characters (字号) with pinyin; a brand is an ordered pair of two different ones.
_BRAND_CHARS = (
    "华hua 鑫xin 源yuan 恒heng 通tong 宏hong 达da 盛sheng 泰tai 瑞rui 祥xiang 博bo 信xin "
    "诚cheng 佳jia 和he 丰feng 隆long 鼎ding 昌chang 兴xing 汇hui 联lian 中zhong 德de 新xin "
    "创chuang 远yuan 航hang 天tian 宇yu 金jin 明ming 光guang 辉hui 正zheng 安an 康kang 顺shun "
    "利li 嘉jia 美mei 凯kai 腾teng 飞fei 翔xiang 云yun 海hai 星xing 辰chen 力li 合he 众zhong "
    "益yi 永yong 长chang 宁ning 方fang 峰feng 晟sheng 骏jun 弘hong 卓zhuo 越yue 冠guan 润run "
    "泽ze 万wan 亿yi 东dong 南nan 荣rong 富fu 兆zhao 广guang 建jian 立li 志zhi 伟wei 豪hao "
    "宝bao 锦jin 蓝lan 迅xun 捷jie 智zhi 精jing 英ying 优you 尚shang 洋yang 江jiang 山shan "
    "川chuan 阳yang 晨chen 旭xu 升sheng 鸿hong 运yun 邦bang 威wei 奥ao 亚ya 欧ou 粤yue "
    "银yin 恩en 致zhi 坤kun"
).split()
_BRANDS: list[tuple[str, str]] = []
_seen_chars: dict[str, str] = {}
for _item in _BRAND_CHARS:
    _ch, _py = _item[0], _item[1:]
    if _ch not in _seen_chars:
        _seen_chars[_ch] = _py
_CHARS = tuple(_seen_chars.items())
for _a, _pa in _CHARS:
    for _b, _pb in _CHARS:
        if _a != _b:
            _BRANDS.append((_a + _b, _pa + _pb))
BRANDS = tuple(_BRANDS)
del _BRANDS, _seen_chars, _item, _ch, _py, _a, _pa, _b, _pb

#: How many names exist before a branch marker is needed.
NAME_SPACE = len(BRANDS) * len(_TAILS)


def _coprime_step(n: int) -> int:
    step = 1_000_003
    while gcd(step, n) != 1:
        step += 2
    return step


_NAME_STEP = _coprime_step(NAME_SPACE)
_NAME_OFFSET = 7_919


class NameParts(NamedTuple):
    brand: str
    brand_pinyin: str
    word: str
    abbr: str
    industry: str
    business: str
    tail: str        # word + legal suffix (+ branch)


_CN_DIGITS = "零一二三四五六七八九"


def _cn_number(n: int) -> str:
    if n < 10:
        return _CN_DIGITS[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return (_CN_DIGITS[tens] if tens > 1 else "") + "十" + (_CN_DIGITS[ones] if ones else "")
    return str(n)


def company_parts(index: int) -> NameParts:
    """The name parts of company number `index` (a bijection for 0 <= index < NAME_SPACE)."""
    if index < 0:
        raise ValueError("index must be >= 0")
    rnd, rest = divmod(index, NAME_SPACE)
    j = (rest * _NAME_STEP + _NAME_OFFSET) % NAME_SPACE
    brand, pinyin = BRANDS[j % len(BRANDS)]
    tail = _TAILS[j // len(BRANDS)]
    text = tail.text if rnd == 0 else "%s第%s分公司" % (tail.text, _cn_number(rnd + 1))
    return NameParts(brand, pinyin, tail.word, tail.abbr, tail.industry, tail.business, text)


def company_name(index: int, where: City | str) -> str:
    """A unique company name for `index`: 深圳市鼎盛机械设备有限公司.

    Unique over all indexes whatever city is given: city prefixes are prefix-free and the rest
    is a bijection of the index."""
    prefix = where.name_prefix if isinstance(where, City) else where
    parts = company_parts(index)
    return prefix + parts.brand + parts.tail


# --------------------------------------------------------------------------------------------
# Other customer fields

_CATEGORIES_WEIGHTED = [("中小企业", 10), ("大客户", 3), ("终端用户", 6), ("代理商", 2),
                        ("政府事业单位", 1), ("渠道合作伙伴", 1)]
CATEGORIES = tuple(c for c, _ in _CATEGORIES_WEIGHTED)
_CATEGORY_TABLE = tuple(c for c, w in _CATEGORIES_WEIGHTED for _ in range(w))

_SOURCES_WEIGHTED = [("网上收集", 14), ("资料购买", 10), ("展会", 5), ("朋友介绍", 3),
                     ("广告", 3), ("老客户介绍", 3), ("电话咨询", 2), ("网站留言", 2),
                     ("搜索引擎", 2), ("陌生拜访", 1)]
SOURCES = tuple(s for s, _ in _SOURCES_WEIGHTED)
_SOURCE_TABLE = tuple(s for s, w in _SOURCES_WEIGHTED for _ in range(w))


def category(rng: random.Random) -> str:
    return _CATEGORY_TABLE[int(rng.random() * len(_CATEGORY_TABLE))]


def source(rng: random.Random) -> str:
    return _SOURCE_TABLE[int(rng.random() * len(_SOURCE_TABLE))]


def industry(rng: random.Random) -> str:
    return INDUSTRIES[int(rng.random() * len(INDUSTRIES))]


_ROADS = ("人民路", "解放路", "中山路", "建设路", "新华路", "长江路", "黄河路", "和平路", "文化路",
          "科技路", "创业路", "工业大道", "发展大道", "滨江路", "迎宾大道", "高新大道", "学府路",
          "光明路", "东风路", "五一路", "朝阳路", "青年路", "环城东路", "世纪大道", "金融街",
          "软件园路", "产业园路", "振兴路", "友谊路", "胜利路")
_BUILDINGS = ("国际大厦", "商务中心", "科技大厦", "财富中心", "创业大厦", "时代广场", "金融中心",
              "国贸大厦", "数码大厦", "企业天地")


def address(rng: random.Random, where: City) -> str:
    """Full postal address: 广东省深圳市南山区科技路128号科技大厦12楼1203室."""
    r = rng.random
    district = where.districts[int(r() * len(where.districts))]
    road = _ROADS[int(r() * len(_ROADS))]
    number = 1 + int(r() * 1999)
    x = r()
    if x < 0.45:
        floor = 2 + int(r() * 30)
        extra = "%s%d楼%d%02d室" % (_BUILDINGS[int(r() * len(_BUILDINGS))], floor, floor,
                                  1 + int(r() * 20))
    elif x < 0.75:
        extra = "%d栋%d室" % (1 + int(r() * 12), 101 + int(r() * 20) * 100 + int(r() * 10))
    elif x < 0.9:
        extra = "工业园%d号厂房" % (1 + int(r() * 30))
    else:
        extra = ""
    return "%s%s%s%d号%s" % (where.address_prefix, district, road, number, extra)


_TLDS = (".com", ".com", ".com", ".cn", ".com.cn", ".net")


def website(rng: random.Random, parts: NameParts) -> str:
    tld = _TLDS[int(rng.random() * len(_TLDS))]
    return "www.%s%s%s" % (parts.brand_pinyin, parts.abbr, tld)


_MAILBOXES = ("sales", "info", "service", "admin", "office", "hr", "market", "contact")
_FREE_MAIL = ("qq.com", "qq.com", "qq.com", "163.com", "163.com", "126.com", "sina.com",
              "139.com", "aliyun.com")


def email(rng: random.Random, domain: str | None = None, qq_number: str | None = None) -> str:
    """A company mailbox on `domain` (sales@...), or a free-mail address."""
    r = rng.random
    if domain and r() < 0.7:
        host = domain[4:] if domain.startswith("www.") else domain
        return "%s@%s" % (_MAILBOXES[int(r() * len(_MAILBOXES))], host)
    if qq_number and r() < 0.6:
        return qq_number + "@qq.com"
    local = _MAILBOXES[int(r() * len(_MAILBOXES))] + str(100 + int(r() * 9900))
    return "%s@%s" % (local, _FREE_MAIL[int(r() * len(_FREE_MAIL))])


_PROFILE_EXTRA = (
    "公司拥有一支经验丰富的专业团队，产品远销全国二十多个省市",
    "已通过ISO9001质量管理体系认证",
    "是当地重点扶持的高新技术企业",
    "在华东、华南设有多个办事处",
    "秉承“诚信、专业、共赢”的经营理念，服务客户超过三千家",
    "近年来业务快速增长，正在扩建销售和客服团队",
    "与多家上市公司建立了长期合作关系",
    "客服中心每天受理大量客户来电",
)


def company_profile(rng: random.Random, name: str, where: City, parts: NameParts,
                    founded: int) -> str:
    r = rng.random
    staff = (10, 20, 30, 50, 80, 100, 150, 200, 300, 500, 1000)[int(r() * 11)]
    extra = _PROFILE_EXTRA[int(r() * len(_PROFILE_EXTRA))]
    return ("%s成立于%d年，位于%s，是一家专业从事%s的企业。公司现有员工%d余人，%s。"
            % (name, founded, where.city, parts.business, staff, extra))


# --------------------------------------------------------------------------------------------
# Products (what the demo company sells) and generic product names


class ProductSpec(NamedTuple):
    code: str
    name: str
    unit: str
    price: str
    description: str


PRODUCTS: tuple[ProductSpec, ...] = (
    ProductSpec("DM-TM10", "达盟电话营销系统标准版(10坐席)", "套", "19800.00",
                "含客户管理、联系记录、回访提醒、话术与录音查询，10个坐席授权。"),
    ProductSpec("DM-TM30", "达盟电话营销系统专业版(30坐席)", "套", "49800.00",
                "标准版全部功能，另含预拨号外呼、报表分析与多部门权限。"),
    ProductSpec("DM-SEAT", "呼叫中心坐席授权", "个", "1200.00", "按坐席增加授权，永久使用。"),
    ProductSpec("DM-PD", "预测式外呼模块", "套", "16800.00",
                "自动过滤空号、关机、忙音，接通后再转坐席，提升坐席有效通话时长。"),
    ProductSpec("DM-REC", "通话录音管理模块", "套", "6800.00", "全程录音、按客户检索、质检评分。"),
    ProductSpec("DM-IVR", "IVR语音导航模块", "套", "8800.00", "多级语音菜单、按键查询、自动转接。"),
    ProductSpec("DM-GW8", "语音网关(8口FXO)", "台", "3600.00", "接入8路模拟外线。"),
    ProductSpec("DM-GW32", "数字中继网关(E1/30路)", "台", "12800.00", "接入一条E1数字中继。"),
    ProductSpec("DM-IPP", "IP话机(双线)", "台", "420.00", "支持SIP协议，双账号，免提通话。"),
    ProductSpec("DM-HS", "话务耳麦(降噪)", "副", "260.00", "单耳降噪耳麦，适合长时间通话。"),
    ProductSpec("DM-FAX", "无纸传真服务器", "套", "9800.00", "电脑收发传真，传真群发与自动索取。"),
    ProductSpec("DM-SMS", "短信套餐(1万条)", "包", "800.00", "营销与通知短信，三网合一通道。"),
    ProductSpec("DM-IMP", "上门安装实施服务", "人天", "1500.00", "系统安装、数据导入与上线培训。"),
    ProductSpec("DM-MNT", "年度维护服务", "年", "8000.00", "远程支持、版本升级与故障响应。"),
    ProductSpec("DM-TRN", "坐席电话营销培训", "场", "3000.00", "话术设计、异议处理与客户开发实训。"),
    ProductSpec("DM-CLOUD", "云呼叫中心坐席月租", "坐席·月", "150.00", "免硬件部署，按月付费。"),
)

_PRODUCT_SERIES = ("智能", "高清", "企业级", "经济型", "专业版", "旗舰版", "标准型", "节能型")
_PRODUCT_ITEMS = ("语音网关", "IP话机", "录音盒", "呼叫中心系统", "客户管理软件", "传真服务器",
                  "会议电话", "交换机", "话务耳麦", "短信猫", "视频会议终端", "工作站")


def product_name(rng: random.Random) -> str:
    """A generic product name with a model number: 企业级语音网关 GW-320."""
    r = rng.random
    return "%s%s %s-%d" % (_PRODUCT_SERIES[int(r() * len(_PRODUCT_SERIES))],
                           _PRODUCT_ITEMS[int(r() * len(_PRODUCT_ITEMS))],
                           "ABCDGHKMPSTX"[int(r() * 12)] + "ABCDGHKMPSTX"[int(r() * 12)],
                           10 * (1 + int(r() * 99)))


# --------------------------------------------------------------------------------------------
# Call notes and tracking progress

_NOTES = {
    "reserve": (
        "电话核实资料，号码有效，前台说负责人是{person}。",
        "打过去是传真机，换手机号再试。",
        "前台说老板不在，让把资料发到邮箱。",
        "对方说公司刚成立，目前没有呼叫中心的需求。",
        "核实了地址和联系人，暂时不是目标客户。",
    ),
    "target": (
        "{person}在开会，约好{day}再打过来。",
        "对方前台不转接，要求先发产品资料到邮箱，已发送。",
        "了解到客户现在用普通电话加Excel登记客户，经常忘记回访，可以重点跟进。",
        "客户说暂时不需要，下个月预算下来再联系。",
        "联系人{person}负责采购，对录音功能比较感兴趣，已加微信发资料。",
        "电话没人接，下午再打。",
        "客户问了价格，先报了标准版的价格区间，对方说考虑一下。",
    ),
    "potential": (
        "回访{person}，资料已经看过，关心能否和现有的ERP对接，已请技术同事准备说明。",
        "约好{day}上门演示，对方销售经理和IT一起参加。",
        "客户在比较两家的方案，强调了我们的预拨号能过滤空号、关机，对方比较认可。",
        "试用账号已开通，客户坐席反馈界面好用，下周看试用数据。",
        "{person}说老板出差，回来后一起开会讨论，{day}再跟进。",
        "客户担心员工不会用，介绍了上线培训和实施服务。",
        "对方需要{n}个坐席，询问能否分期付款。",
    ),
    "opportunity": (
        "已发送正式报价单，{person}说价格偏高，希望再优惠一些。",
        "和客户老板通了电话，基本认可方案，等财务审批。",
        "客户要求把维护服务的期限延长到两年，已请示经理。",
        "合同条款已经发过去，对方法务在审，预计{day}回复。",
        "客户口头同意采购{n}个坐席，约好{day}签合同。",
        "竞争对手报价更低，强调了我们的本地服务和录音质检功能。",
        "商务谈判中，客户希望先上10个坐席，后续再扩容。",
    ),
    "closed": (
        "售后回访，系统运行正常，{person}对外呼效率提升很满意。",
        "客户反馈有两个坐席耳麦有杂音，已安排更换。",
        "回访使用情况，客户计划下季度再增加{n}个坐席。",
        "提醒客户年度维护服务即将到期，客户说会按时续费。",
        "客户介绍了一家同行的朋友公司，已记下联系方式。",
        "尾款已到账，感谢客户支持，顺便介绍了短信套餐。",
    ),
}
# The first call to a customer.
_FIRST_NOTES = (
    "第一次联系{person}，介绍了我们的电话营销系统，对方说目前有{n}个人在做电话销售，有兴趣了解。",
    "初次致电，{person}说目前用普通电话和Excel管理客户，同意先发资料看看。",
    "首次联系，前台转到{person}，简单介绍了公司和产品，约{day}详细沟通。",
    "第一次打过去，{person}说公司有{n}个客服，正在考虑上录音系统。",
    "电话核实资料，号码有效，前台说负责人是{person}。",
)
_NOTES[None] = _NOTES["reserve"] + ("客户公司已注销，电话停机。", "多次联系未果，转入客户档案。")
_DAYS = ("明天上午", "明天下午", "后天", "周一", "周三", "周五", "下周二", "下周四", "月底")

_PROGRESS = {
    "reserve": ("核实资料", "初次联系"),
    "target": ("初次联系", "确认联系人", "了解需求", "发送资料", "约定回访"),
    "potential": ("需求确认", "方案沟通", "预约演示", "产品演示", "试用中"),
    "opportunity": ("已报价", "商务谈判", "等待决策", "口头同意", "合同审批"),
    "closed": ("签订合同", "安装实施", "回款跟进", "售后回访", "续费洽谈", "转介绍"),
}
_PROGRESS[None] = ("核实资料", "暂停跟踪", "无需求")
PROGRESS_PHRASES = tuple(dict.fromkeys(p for ps in _PROGRESS.values() for p in ps))

CONTACT_METHODS = ("phone", "phone", "phone", "phone", "phone", "phone", "phone", "visit",
                   "email", "sms", "qq")


def contact_note(rng: random.Random, stage: str | None, person: str | None = None, *,
                 first: bool = False) -> str:
    """A short, realistic call note for a customer at `stage` (None = archive); `first`
    for the first call to a customer in the reserve or target stage."""
    r = rng.random
    if first and stage in ("reserve", "target"):
        notes = _FIRST_NOTES
    else:
        notes = _NOTES.get(stage, _NOTES["target"])
    text = notes[int(r() * len(notes))]
    return text.format(person=person or "联系人", n=(3, 5, 8, 10, 15, 20, 30)[int(r() * 7)],
                       day=_DAYS[int(r() * len(_DAYS))])


def progress(rng: random.Random, stage: str | None, *, first: bool = False) -> str:
    """A tracking-progress phrase (跟踪进程) for a call at `stage`."""
    if first and stage in ("reserve", "target"):
        return "初次联系"
    phrases = _PROGRESS.get(stage, _PROGRESS["target"])
    if not first and stage in ("reserve", "target"):
        phrases = tuple(p for p in phrases if p != "初次联系") or phrases
    return phrases[int(rng.random() * len(phrases))]


def contact_method(rng: random.Random) -> str:
    return CONTACT_METHODS[int(rng.random() * len(CONTACT_METHODS))]


ORDER_NOTES = (
    "合同已签订，已通知仓库备货。",
    "设备已发货，快递单号已短信通知客户。",
    "安装调试完成，客户确认验收。",
    "客户已支付首付款50%，尾款验收后支付。",
    "催收尾款，对方财务说月底安排付款。",
    "上线培训已完成，坐席均能独立操作。",
    "客户反馈一台话机无法注册，已远程处理好。",
    "发票已开具并寄出。",
)


def order_note(rng: random.Random) -> str:
    return ORDER_NOTES[int(rng.random() * len(ORDER_NOTES))]


# --------------------------------------------------------------------------------------------
# A whole customer row

# The sales funnel: many leads in the reserve, few closed ones (archive = None).
STAGE_WEIGHTS: tuple[tuple[str | None, float], ...] = (
    (None, 0.08), ("reserve", 0.50), ("target", 0.20), ("potential", 0.11),
    ("opportunity", 0.07), ("closed", 0.04))
# Ownership per stage: (personal, collaborative, shared). The reserve is mostly shared.
OWNERSHIP_WEIGHTS: dict[str | None, tuple[float, float, float]] = {
    None: (0.15, 0.05, 0.80), "reserve": (0.10, 0.02, 0.88), "target": (0.55, 0.10, 0.35),
    "potential": (0.60, 0.20, 0.20), "opportunity": (0.55, 0.35, 0.10),
    "closed": (0.55, 0.35, 0.10)}
# Age of a customer at each stage, in days (min, max).
_AGE_DAYS = {None: (30, 720), "reserve": (0, 540), "target": (3, 400), "potential": (10, 400),
             "opportunity": (20, 500), "closed": (60, 720)}

_STAGE_TABLE: tuple[str | None, ...] = tuple(
    s for s, w in STAGE_WEIGHTS for _ in range(int(round(w * 100))))


def pick_stage(rng: random.Random) -> str | None:
    return _STAGE_TABLE[int(rng.random() * len(_STAGE_TABLE))]


def pick_ownership(rng: random.Random, stage_: str | None) -> str:
    personal, collaborative, _ = OWNERSHIP_WEIGHTS[stage_]
    x = rng.random()
    if x < personal:
        return "personal"
    if x < personal + collaborative:
        return "collaborative"
    return "shared"


_RANDOM: Any = object()


def customer_row(rng: random.Random, index: int, now: dt.datetime, *,
                 stage: str | None = _RANDOM, ownership: str = _RANDOM) -> dict[str, Any]:
    """Column values of one `Customer` (no id), ready for a bulk INSERT.

    `index` makes the name unique (one index, one customer). Stage and ownership are drawn
    from the funnel unless given. Contact state is left blank (contact_mark not_contacted, no
    callback); operators, `created_by_id` and contact records are the caller's business. The
    *_e164 columns hold exactly what `models.phones.normalize_phone` makes of each number.
    `now` must be an aware datetime; created_at lies before it according to the stage."""
    r = rng.random
    if stage is _RANDOM:
        stage = _STAGE_TABLE[int(r() * len(_STAGE_TABLE))]
    if ownership is _RANDOM:
        ownership = pick_ownership(rng, stage)
    where = _CITY_TABLE[int(r() * len(_CITY_TABLE))]
    parts = company_parts(index)
    name = where.name_prefix + parts.brand + parts.tail

    lo, hi = _AGE_DAYS[stage]
    created_at = now - dt.timedelta(seconds=int((lo + r() * (hi - lo)) * 86400))
    stage_changed_at = created_at
    if stage not in (None, "reserve"):
        stage_changed_at = created_at + (now - created_at) * (0.2 + 0.7 * r())
        stage_changed_at = stage_changed_at.replace(microsecond=0)

    phone = landline(rng, where) if r() < 0.9 else None
    mob = mobile(rng) if r() < 0.75 else None
    fax = landline(rng, where) if r() < 0.35 else None
    qq_number = qq(rng) if r() < 0.4 else None
    site = website(rng, parts) if r() < 0.55 else None
    mail = email(rng, site, qq_number) if r() < 0.5 else None
    im = None
    if r() < 0.25:
        im = mob if mob and r() < 0.7 else "wx_%s%d" % (parts.brand_pinyin, int(r() * 1000))
    founded = created_at.year - 2 - int(r() * 25)
    return {
        "name": name, "name_key": name_key(name),
        "keyword": parts.brand + parts.word,
        "contact_person": person_name(rng) if r() < 0.85 else None,
        "title": _TITLE_TABLE[int(r() * len(_TITLE_TABLE))] if r() < 0.6 else None,
        "phone": phone, "phone_e164": e164(phone),
        "mobile": mob, "mobile_e164": e164(mob),
        "fax": fax, "fax_e164": e164(fax),
        "qq": qq_number, "im": im, "email": mail, "website": site,
        "address": address(rng, where) if r() < 0.8 else None,
        "province": where.province, "city": where.city,
        "industry": parts.industry,
        "category": _CATEGORY_TABLE[int(r() * len(_CATEGORY_TABLE))] if r() < 0.7 else None,
        "source": _SOURCE_TABLE[int(r() * len(_SOURCE_TABLE))],
        "profile": company_profile(rng, name, where, parts, founded) if r() < 0.6 else None,
        "stage": stage,
        "ownership": ownership,
        "contact_mark": "not_contacted",
        "tracking_mark": "tracking",
        "time_zone": "Asia/Shanghai",
        "do_not_call": r() < 0.01,
        "number_status": "unknown",
        "next_callback_at": None,
        "last_contacted_at": None,
        "created_by_id": None,
        "created_at": created_at.replace(microsecond=0),
        "updated_at": stage_changed_at.replace(microsecond=0),
        "stage_changed_at": stage_changed_at.replace(microsecond=0),
    }
