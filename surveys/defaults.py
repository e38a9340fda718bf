"""What every clinic starts with: answer scales, the two default questionnaires and the complaint lexicon.

Plain data. Question and option texts are stored with each template version (both languages), so a later
edit of this file never changes what a patient was shown.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

# Scale labels, least favourable first; the value of a label is its position (1..k).
# qi-methods.md §7.3: the national-style items use 从未/有时/经常/总是 and 非常不满意…非常满意.
SCALES: MappingProxyType[str, tuple[tuple[str, str], ...]] = MappingProxyType({
    "frequency4": (("从未", "Never"), ("有时", "Sometimes"), ("经常", "Usually"), ("总是", "Always")),
    "satisfaction4": (("非常不满意", "Very dissatisfied"), ("比较不满意", "Fairly dissatisfied"),
                      ("比较满意", "Fairly satisfied"), ("非常满意", "Very satisfied")),
    "satisfaction5": (("非常不满意", "Very dissatisfied"), ("不满意", "Dissatisfied"),
                      ("一般", "Neither satisfied nor dissatisfied"), ("满意", "Satisfied"),
                      ("非常满意", "Very satisfied")),
    "agreement5": (("非常不同意", "Strongly disagree"), ("不同意", "Disagree"), ("一般", "Neither agree nor disagree"),
                   ("同意", "Agree"), ("非常同意", "Strongly agree")),
})
YES_NO = (("是", "Yes"), ("否", "No"))
NOT_APPLICABLE = ("不适用", "Does not apply")
NPS_ENDS = (("完全不可能", "Not at all likely"), ("非常可能", "Extremely likely"))

POST_CALLBACK = "post_callback"
SERVICE = "service"

_RECOMMEND = {
    "key": "recommend", "type": "nps", "dimension": "overall", "required": True,
    "zh": "您有多大可能向亲友推荐我们的家庭医生服务？", "en": "How likely are you to recommend our family-doctor "
    "service to friends or family?",
}
_COMMENT = {
    "key": "comment", "type": "text", "dimension": "overall", "required": False,
    "zh": "还有什么想告诉我们的吗？（选填）", "en": "Is there anything else you would like to tell us? (optional)",
}

DEFAULT_TEMPLATES: tuple[dict[str, Any], ...] = (
    {
        "code": POST_CALLBACK,
        "title_zh": "随访电话满意度调查", "title_en": "Your follow-up call",
        "intro_zh": "您好！您最近接到了我们的随访电话。请花1分钟回答几个问题，帮助我们改进服务。",
        "intro_en": "You recently had a follow-up call from us. Please take a minute to tell us how it went.",
        "questions": [
            {"key": "explained", "type": "likert", "scale": "frequency4", "dimension": "communication",
             "required": True, "zh": "医生是否用您听得懂的方式解释了您的情况？",
             "en": "Did the doctor explain things in a way you could understand?"},
            {"key": "listened", "type": "likert", "scale": "frequency4", "dimension": "communication",
             "required": True, "zh": "医生是否认真倾听了您说的话？", "en": "Did the doctor listen carefully to you?"},
            {"key": "timely", "type": "likert", "scale": "frequency4", "dimension": "waiting", "required": True,
             "zh": "需要时，您是否及时接到了医生的电话？", "en": "Were you called as soon as you needed?"},
            _RECOMMEND,
            _COMMENT,
        ],
    },
    {
        "code": SERVICE,
        "title_zh": "家庭医生服务满意度调查", "title_en": "Your family-doctor service",
        "intro_zh": "您好！请告诉我们过去几个月您对家庭医生团队服务的感受。大约需要2分钟。",
        "intro_en": "Please tell us about the care you had from your family-doctor team in the last few months. "
                    "It takes about 2 minutes.",
        "questions": [
            {"key": "reach", "type": "likert", "scale": "frequency4", "dimension": "access", "required": True,
             "zh": "需要时，您能方便地联系到家庭医生团队吗？",
             "en": "When you needed to, could you easily reach your family-doctor team?"},
            {"key": "seen_soon", "type": "likert", "scale": "frequency4", "dimension": "access", "required": True,
             "zh": "需要看病时，您能及时得到诊治吗？", "en": "Could you get care as soon as you needed it?"},
            {"key": "wait_time", "type": "likert", "scale": "frequency4", "dimension": "waiting", "required": True,
             "allow_na": True, "zh": "在中心就诊时，等候时间合理吗？",
             "en": "When you came to the clinic, was the waiting time reasonable?"},
            {"key": "respect", "type": "likert", "scale": "frequency4", "dimension": "communication",
             "required": True, "zh": "医务人员对您礼貌、尊重吗？",
             "en": "Did staff treat you with courtesy and respect?"},
            {"key": "explained", "type": "likert", "scale": "frequency4", "dimension": "communication",
             "required": True, "zh": "医生是否用您听得懂的方式解释了您的情况？",
             "en": "Did the doctor explain things in a way you could understand?"},
            {"key": "medicines", "type": "yes_no", "dimension": "communication", "required": True,
             "allow_na": True, "zh": "医生是否向您讲清楚了药物怎么吃？",
             "en": "Did the doctor explain how to take your medicines?"},
            {"key": "visit_type", "type": "choice", "dimension": "access", "required": False,
             "zh": "最近一次您主要通过哪种方式接受服务？", "en": "How were you mostly seen the last time?",
             "options": [{"value": "clinic", "zh": "到中心就诊", "en": "At the clinic"},
                         {"value": "home", "zh": "家庭医生上门", "en": "Home visit"},
                         {"value": "remote", "zh": "电话或短信", "en": "By phone or SMS"}]},
            {"key": "overall", "type": "likert", "scale": "satisfaction5", "dimension": "overall", "required": True,
             "zh": "总的来说，您对我们的服务满意吗？", "en": "Overall, how satisfied are you with our service?"},
            _RECOMMEND,
            _COMMENT,
        ],
    },
)

# Words that turn a free-text answer into a concern (qi-methods.md §7.4). Chinese entries match anywhere,
# English entries at the start of a word ("complain" finds "complained", "complaint").
COMPLAINT_WORDS: tuple[str, ...] = (
    "不满意", "投诉", "态度差", "态度不好", "态度恶劣", "等太久", "等了很久", "等很久", "没人接", "不耐烦",
    "不理人", "敷衍", "差劲", "太差", "乱收费", "举报", "骂人",
    "complain", "rude", "waited too long", "wait too long", "waiting too long", "long wait", "unprofessional",
    "ignored", "disrespect", "never called", "nobody called", "terrible", "awful", "unacceptable",
)
# Phrases that deny a complaint; removed before matching so "没有不满意" is not read as 不满意.
COMPLAINT_NEGATIONS: tuple[str, ...] = (
    "没有不满意", "没什么不满意", "无不满意", "没有投诉", "不用投诉", "无投诉",
    "no complaints", "no complaint", "nothing to complain", "not rude", "never rude",
)
