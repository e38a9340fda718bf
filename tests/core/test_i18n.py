"""Both languages everywhere: every message the code can show has a Simplified Chinese translation."""

from __future__ import annotations

from core import i18n
from core.i18n_catalog import untranslated


def test_every_message_has_a_chinese_translation():
    missing = untranslated("zh_CN")
    assert missing == [], "run `make messages` and translate:\n" + "\n".join(missing)


def test_messages_translate_with_parameters():
    assert i18n.gettext("zh-CN", "Hello, %(name)s", name="王") == "您好，王"
    assert i18n.gettext("en", "Hello, %(name)s", name="Wang") == "Hello, Wang"


def test_browser_languages_map_onto_supported_ones():
    assert i18n.negotiate("zh-TW,zh;q=0.9", default="en") == "zh-CN"
    assert i18n.negotiate("fr-FR, en-GB;q=0.8", default="zh-CN") == "en"
    assert i18n.negotiate("fr-FR", default="zh-CN") == "zh-CN"
