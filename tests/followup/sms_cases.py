"""The 57 worked messages of clinical-rules.md §6.8, verbatim, for the grammar, validation and reply tests."""

from __future__ import annotations

from dataclasses import dataclass

from followup.enums import ReplyTier

# The §6.8 table counts its example signature 【XX社区卫生服务中心】 in the Chinese lengths; that is 12
# characters (the table's note says 11, its numbers say 12).
TABLE_SIGNATURE = "【XX社区卫生服务中心】"


@dataclass(frozen=True)
class Case:
    n: int
    message: str
    profile: str  # CN: mmol/L, 120; US: mg/dL, 911
    intent: str
    parsed: str
    rule_hits: str
    reply: str | None  # None: the app sends nothing (Twilio answers, or an opt-out)
    encoding: str | None
    chars: int | None  # including TABLE_SIGNATURE for Chinese replies

    @property
    def glucose_unit(self) -> str:
        return "mmol/L" if self.profile == "CN" else "mg/dL"

    @property
    def emergency_number(self) -> str:
        return "120" if self.profile == "CN" else "911"

    @property
    def language(self) -> str:
        # The reply is in the patient's language; the table shows it by the reply text (#11, #49 are
        # English replies in the CN profile).
        if self.reply is None:
            return "zh-CN" if self.profile == "CN" else "en"
        return "zh-CN" if any("\u4e00" <= c <= "\u9fff" for c in self.reply) else "en"

    @property
    def tier(self) -> ReplyTier | None:
        """The reply tier the rules engine would hand over for the table's "Rule hits" column."""
        hits = self.rule_hits
        if "EMERGENCY" in hits:
            return ReplyTier.symptom
        if "URGENT" in hits:
            if "HTN" in hits:
                return ReplyTier.urgent_bp
            if "DM-01a" in hits or "GLU-HI" in hits:
                return ReplyTier.urgent_glucose_high
            return ReplyTier.urgent_low
        if "SAME_DAY" in hits:
            return ReplyTier.same_day_low
        if "RECHECK" in hits:
            return ReplyTier.recheck
        if hits in ("—", ""):
            return None
        return ReplyTier.recorded  # WINDOW, ROUTINE, CONFIRM, REJECT

    @property
    def id(self) -> str:
        return f"{self.n:02d}-{self.message}"


# Both test profiles enrol the patient in both programmes: #34 (11.2) reads as glucose, #35 (150 95) as
# blood pressure and #36 (7) must be asked about.
PROGRAMMES = frozenset({"hypertension", "diabetes"})

CASES: tuple[Case, ...] = (
    Case(
        1, '血糖11.2', 'CN', 'READINGS', 'GLU 11.2',
        'CN-DM-03n→WINDOW',
        '已收到：血糖11.2。谢谢！',
        'UCS-2', 26,
    ),
    Case(
        2, '血糖１１．２', 'CN', 'READINGS', 'GLU 11.2',
        'CN-DM-03n→WINDOW',
        '已收到：血糖11.2。谢谢！',
        'UCS-2', 26,
    ),
    Case(
        3, '空腹血糖 6.8', 'CN', 'READINGS', 'GLU 6.8 [fasting]',
        'OK→ROUTINE',
        '已收到：血糖6.8(空腹)。谢谢！',
        'UCS-2', 29,
    ),
    Case(
        4, '空腹血糖7.8', 'CN', 'READINGS', 'GLU 7.8 [fasting]',
        'CN-DM-03→WINDOW',
        '已收到：血糖7.8(空腹)。谢谢！',
        'UCS-2', 29,
    ),
    Case(
        5, '餐后2小时血糖12.5', 'CN', 'READINGS', 'GLU 12.5 [pp2h]',
        'CN-DM-03n→WINDOW',
        '已收到：血糖12.5(餐后2h)。谢谢！',
        'UCS-2', 32,
    ),
    Case(
        6, '血压150/95', 'CN', 'READINGS', 'BP 150/95',
        'CN-HTN-03h→WINDOW',
        '已收到：血压150/95。谢谢！',
        'UCS-2', 28,
    ),
    Case(
        7, '血压１５０／９５', 'CN', 'READINGS', 'BP 150/95',
        'CN-HTN-03h→WINDOW',
        '已收到：血压150/95。谢谢！',
        'UCS-2', 28,
    ),
    Case(
        8, '高压150低压95', 'CN', 'READINGS', 'BP 150/95',
        'CN-HTN-03h→WINDOW',
        '已收到：血压150/95。谢谢！',
        'UCS-2', 28,
    ),
    Case(
        9, 'BP 150 95', 'US', 'READINGS', 'BP 150/95',
        'US-HTN-03h→WINDOW',
        'Got it: BP 150/95. Thank you.',
        'GSM-7', 29,
    ),
    Case(
        10, 'bp 150,95', 'US', 'READINGS', 'BP 150/95',
        'US-HTN-03h→WINDOW',
        'Got it: BP 150/95. Thank you.',
        'GSM-7', 29,
    ),
    Case(
        11, 'sugar 11.2 fasting', 'CN', 'READINGS', 'GLU 11.2 [fasting]',
        'CN-DM-03→WINDOW',
        'Got it: glucose 11.2 mmol/L (fasting). Thank you.',
        'GSM-7', 49,
    ),
    Case(
        12, 'sugar 11,2 fasting', 'CN', 'READINGS', 'GLU 11.2 [fasting]',
        'CN-DM-03→WINDOW',
        'Got it: glucose 11.2 mmol/L (fasting). Thank you.',
        'GSM-7', 49,
    ),
    Case(
        13, 'Sugar 202', 'US', 'READINGS', 'GLU 202',
        'US-DM-03n→WINDOW',
        'Got it: glucose 202 mg/dL. Thank you.',
        'GSM-7', 37,
    ),
    Case(
        14, 'BG 52 mg/dl', 'US', 'READINGS', 'GLU 52 mg/dL',
        'ADA-HYPO-L2→URGENT',
        'Got it: glucose 52 mg/dL. Please follow your care plan for this reading and re-check. We w'
        'ill call you soon. If unwell call 911.',
        'GSM-7', 128,
    ),
    Case(
        15, 'bg 65', 'US', 'READINGS', 'GLU 65',
        'ADA-HYPO-L1→SAME_DAY',
        'Got it: glucose 65 mg/dL. Please follow your care plan for low readings and re-check in 15'
        ' min. We will call you today.',
        'GSM-7', 119,
    ),
    Case(
        16, '150/95/72', 'CN', 'READINGS', 'BP 150/95 HR 72',
        'CN-HTN-03h→WINDOW',
        '已收到：血压150/95 心率72。谢谢！',
        'UCS-2', 33,
    ),
    Case(
        17, '血压135/85 血糖7.2 空腹', 'CN', 'READINGS', 'BP 135/85; GLU 7.2 [fasting]',
        'CN-HTN-03h→WINDOW, CN-DM-03→WINDOW',
        '已收到：血压135/85，血糖7.2(空腹)。谢谢！',
        'UCS-2', 38,
    ),
    Case(
        18, '早上7点血糖6.5', 'CN', 'READINGS', 'GLU 6.5',
        'OK→ROUTINE',
        '已收到：血糖6.5。谢谢！',
        'UCS-2', 25,
    ),
    Case(
        19, '血糖11点2', 'CN', 'READINGS', 'GLU 11.2',
        'CN-DM-03n→WINDOW',
        '已收到：血糖11.2。谢谢！',
        'UCS-2', 26,
    ),
    Case(
        20, '血糖十一点二', 'CN', 'READINGS', 'GLU 11.2',
        'CN-DM-03n→WINDOW',
        '已收到：血糖11.2。谢谢！',
        'UCS-2', 26,
    ),
    Case(
        21, '血压一百五十/九十五', 'CN', 'READINGS', 'BP 150/95',
        'CN-HTN-03h→WINDOW',
        '已收到：血压150/95。谢谢！',
        'UCS-2', 28,
    ),
    Case(
        22, 'xt 3.5', 'CN', 'READINGS', 'GLU 3.5',
        'CN-DM-01b→URGENT',
        '已收到：血糖3.5。请按医生交代的方法处理并复测，医生将尽快致电您。不适请拨打120。',
        'UCS-2', 55,
    ),
    Case(
        23, '血糖3.9', 'CN', 'READINGS', 'GLU 3.9',
        'CN-DM-01b→URGENT',
        '已收到：血糖3.9。请按医生交代的方法处理并复测，医生将尽快致电您。不适请拨打120。',
        'UCS-2', 55,
    ),
    Case(
        24, '血糖2.8', 'CN', 'READINGS', 'GLU 2.8',
        'ADA-HYPO-L2→URGENT',
        '已收到：血糖2.8。请按医生交代的方法处理并复测，医生将尽快致电您。不适请拨打120。',
        'UCS-2', 55,
    ),
    Case(
        25, '血糖16.7', 'CN', 'READINGS', 'GLU 16.7',
        'CN-DM-01a→URGENT',
        '已收到：血糖16.7。请复测并回复结果，医生将尽快致电您。不适请拨打120。',
        'UCS-2', 50,
    ),
    Case(
        26, '血糖 HI', 'CN', 'READINGS', 'GLU HI',
        'VAL-GLU-HI→URGENT',
        '已收到：血糖HI。请复测并回复结果，医生将尽快致电您。不适请拨打120。',
        'UCS-2', 48,
    ),
    Case(
        27, '血压185/100', 'CN', 'READINGS', 'BP 185/100',
        'CN-HTN-01→URGENT',
        '已收到：血压185/100。请休息5分钟后复测并回复结果，医生将尽快致电您。不适请拨打120。',
        'UCS-2', 59,
    ),
    Case(
        28, '血压170/112', 'CN', 'READINGS', 'BP 170/112',
        'CN-HTN-01→URGENT',
        '已收到：血压170/112。请休息5分钟后复测并回复结果，医生将尽快致电您。不适请拨打120。',
        'UCS-2', 59,
    ),
    Case(
        29, 'BP 170/112', 'US', 'READINGS', 'BP 170/112',
        'US-HTN-03h→WINDOW',
        'Got it: BP 170/112. Thank you.',
        'GSM-7', 30,
    ),
    Case(
        30, 'BP 175/121', 'US', 'READINGS', 'BP 175/121',
        'US-HTN-01→URGENT',
        'Got it: BP 175/121. Please rest 5 min, re-check and text the result. We will call you soon'
        '. If unwell call 911.',
        'GSM-7', 111,
    ),
    Case(
        31, '血压185/100 头痛', 'CN', 'READINGS', 'BP 185/100 {symptom:头痛}',
        'CN-HTN-01→URGENT, CN-SYM-01→EMERGENCY',
        '已收到：血压185/100。如有胸痛、气短、意识不清等请立即拨打120。医生将尽快致电您。',
        'UCS-2', 57,
    ),
    Case(
        32, '胸口痛 喘不上气', 'CN', 'UNPARSED', '{symptom:胸口痛,喘不上气}',
        'CN-SYM-01→EMERGENCY',
        '如有胸痛、气短、意识不清等请立即拨打120。医生将尽快致电您。',
        'UCS-2', 43,
    ),
    Case(
        33, '血糖11。2', 'CN', 'READINGS', 'GLU 11.2',
        'CN-DM-03n→WINDOW',
        '已收到：血糖11.2。谢谢！',
        'UCS-2', 26,
    ),
    Case(
        34, '11.2', 'CN', 'READINGS', 'GLU 11.2',
        'CN-DM-03n→WINDOW',
        '已收到：血糖11.2。谢谢！',
        'UCS-2', 26,
    ),
    Case(
        35, '150 95', 'CN', 'READINGS', 'BP 150/95',
        'CN-HTN-03h→WINDOW',
        '已收到：血压150/95。谢谢！',
        'UCS-2', 28,
    ),
    Case(
        36, '7', 'CN', 'UNPARSED', '—',
        '—',
        '请注明项目，如“血糖7.2”或“血压150/95”。',
        'UCS-2', 38,
    ),
    Case(
        37, '95/150', 'CN', 'READINGS', 'BP 95/150',
        'VAL-BP-ORDER→CONFIRM',
        '您发的血压是95/150，是否应为150/95？是请回复“确认”，否则请重发。',
        'UCS-2', 51,
    ),
    Case(
        38, '血压15/9', 'CN', 'READINGS', 'BP 15/9',
        'VAL-BP-RANGE→REJECT',
        '读数超出可识别范围，请复测后按“血压150/95”或“血糖7.2”格式发送。',
        'UCS-2', 50,
    ),
    Case(
        39, '血糖112', 'CN', 'READINGS', 'GLU 112',
        'VAL-GLU-UNIT→CONFIRM, OK→ROUTINE',
        '收到血糖112，单位是mg/dL吗？是请回复“确认”，否则请按“血糖6.2”格式重发。',
        'UCS-2', 55,
    ),
    Case(
        40, '血糖45', 'CN', 'READINGS', 'GLU 45',
        'VAL-GLU-UNIT→CONFIRM, ADA-HYPO-L2→URGENT',
        '收到血糖45，单位是mg/dL吗？医生将尽快致电您核实。不适请拨打120。',
        'UCS-2', 49,
    ),
    Case(
        41, '体重65公斤', 'CN', 'READINGS', 'WT 65 kg',
        'OK→ROUTINE',
        '已收到：体重65公斤。谢谢！',
        'UCS-2', 26,
    ),
    Case(
        42, '体重130', 'CN', 'READINGS', 'WT 130 ?',
        'VAL-WT-UNIT→CONFIRM',
        '收到体重130，单位是公斤还是斤？请按“体重65公斤”格式重发。',
        'UCS-2', 44,
    ),
    Case(
        43, '心率108', 'CN', 'READINGS', 'HR 108',
        'CN-DM-05→RECHECK',
        '已收到：心率108。请稍后复测并发送结果，谢谢。',
        'UCS-2', 36,
    ),
    Case(
        44, 'STOP', 'CN', 'OPT_OUT', '—',
        '—',
        None,
        None, None,
    ),
    Case(
        45, '退订', 'CN', 'OPT_OUT', '—',
        '—',
        None,
        None, None,
    ),
    Case(
        46, 'YES', 'CN', 'OPT_IN', '—',
        '—',
        None,
        None, None,
    ),
    Case(
        47, '确认', 'CN', 'CONFIRM', '—',
        '—',
        '已确认，谢谢。',
        'UCS-2', 19,
    ),
    Case(
        48, '我今天感觉还行', 'CN', 'UNPARSED', '—',
        '—',
        '未能识别。请按“血压150/95”或“血糖7.2”格式发送，紧急情况请拨打120。',
        'UCS-2', 53,
    ),
    Case(
        49, 'stop sending me these', 'CN', 'OPT_OUT_LIKE', '—',
        '—',
        'To stop texts reply STOP. Your care team may still call you.',
        'GSM-7', 60,
    ),
    Case(
        50, '帮助', 'CN', 'HELP', '—',
        '—',
        '发送格式：血压150/95 或 血糖7.2（可加空腹/餐后）。紧急情况请拨打120。',
        'UCS-2', 54,
    ),
    Case(
        51, 'bp 190/115 chest pain', 'US', 'READINGS', 'BP 190/115 {symptom:chest pain}',
        'US-HTN-01→URGENT, US-SYM-01→EMERGENCY',
        'Got it: BP 190/115. If you have chest pain, trouble breathing or confusion call 911 now. Y'
        'our care team will call you shortly.',
        'GSM-7', 126,
    ),
    Case(
        52, 'BP 150 over 95', 'US', 'READINGS', 'BP 150/95',
        'US-HTN-03h→WINDOW',
        'Got it: BP 150/95. Thank you.',
        'GSM-7', 29,
    ),
    Case(
        53, 'glucose LO', 'US', 'READINGS', 'GLU LO',
        'VAL-GLU-LO→URGENT',
        'Got it: glucose LO. Please follow your care plan for this reading and re-check. We will ca'
        'll you soon. If unwell call 911.',
        'GSM-7', 122,
    ),
    Case(
        54, 'HELP', 'CN', 'HELP', '—',
        '—',
        None,
        None, None,
    ),
    Case(
        55, '血压150/95 心率72 体重68公斤', 'CN', 'READINGS', 'BP 150/95; HR 72; WT 68 kg',
        'CN-HTN-03h→WINDOW, OK→ROUTINE, OK→ROUTINE',
        '已收到：血压150/95，心率72，体重68公斤。谢谢！',
        'UCS-2', 40,
    ),
    Case(
        56, 'bg 302', 'US', 'READINGS', 'GLU 302',
        'US-GLU-HI→URGENT',
        'Got it: glucose 302 mg/dL. Please re-check and text the result. We will call you soon. If '
        'unwell call 911.',
        'GSM-7', 106,
    ),
    Case(
        57, 'bg 70', 'US', 'READINGS', 'GLU 70',
        'OK→ROUTINE',
        'Got it: glucose 70 mg/dL. Thank you.',
        'GSM-7', 36,
    ),
)
