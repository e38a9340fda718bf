"""POST /api/v1/spc against every qicharts2 vector of qi-methods.md §1.4 (the engine's own reference data,
imported from its tests), and the 422s that name the field at fault."""

import pytest

from tests.factories import make_clinic, make_staff, make_token
from tests.pdca.spc.test_spc_laney import PP_COUNTS, PP_LIMITS, PP_SIZES, UP_COUNTS, UP_LIMITS, UP_SIZES
from tests.pdca.spc.test_spc_reference_vectors import CDI, CIRCUIT, COST, ORANGE_JUICE, close, subgroups

TBL_7_4_1_COUNTS = [12, 8, 6, 9, 10, 12, 11, 16, 10, 6, 20, 15, 9, 8, 6, 8, 10, 7, 5, 8, 5, 8, 10, 6, 9]
TBL_7_4_1_SIZES = [100, 80, 80, 100, 110, 110, 100, 100, 90, 90, 110, 120, 120, 120, 110, 80, 80, 80, 90, 100, 100,
                   100, 100, 90, 90]  # fmt: skip


@pytest.fixture
def spc(client, session):
    clinic = make_clinic(session)
    token = make_token(session, make_staff(session, clinic, role="committee"))
    session.commit()

    def post(body: dict, expect: int = 200) -> dict:
        response = client.post("/api/v1/spc", json=body, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == expect, response.text
        return response.json()

    return post


def signals(result: dict) -> list[int]:
    """1-based positions of points outside their limits, as qi-methods.md counts them."""
    return [i + 1 for i, p in enumerate(result["points"]) if p["signal"]]


def test_ex_6_5_3_i_chart_frozen_at_20(spc):
    result = spc({"chart": "i", "values": COST, "freeze": 20})
    first = result["points"][0]
    assert close(first["cl"], "300.5") and close(first["lcl"], "279.783315") and close(first["ucl"], "321.216685")
    assert result["points"][-1]["ucl"] == first["ucl"]
    part = result["parts"][0]
    assert (part["n_useful"], part["longest_run"], part["longest_run_max"]) == (40, 6, 8)
    assert (part["crossings"], part["crossings_min"], part["runs_signal"]) == (20, 14, False)
    assert signals(result) == [39, 40]


def test_ex_6_5_4_mr_chart_frozen_at_20(spc):
    result = spc({"chart": "mr", "values": COST, "freeze": 20})
    point = result["points"][1]
    assert close(point["cl"], "7.789474") and close(point["ucl"], "25.448211") and point["lcl"] == 0
    assert signals(result) == [39]
    assert result["parts"][0]["runs_signal"] is False and result["parts"][0]["longest_run"] is None


def test_ex_7_3_3_c_chart_with_exclusions_frozen_at_26(spc):
    result = spc({"chart": "c", "values": CIRCUIT, "exclude": [5, 19], "freeze": 26})
    point = result["points"][0]
    assert close(point["cl"], "19.666667") and close(point["lcl"], "6.362532") and close(point["ucl"], "32.970801")
    part = result["parts"][0]
    assert (part["n_useful"], part["longest_run"], part["longest_run_max"]) == (44, 8, 8)
    assert (part["crossings"], part["crossings_min"], part["runs_signal"]) == (14, 16, True)
    assert signals(result) == [6, 20]


def test_tbl_7_4_1_p_chart_with_varying_sample_sizes(spc):
    result = spc({"chart": "p", "values": TBL_7_4_1_COUNTS, "denominators": TBL_7_4_1_SIZES})
    points = result["points"]
    assert close(points[0]["cl"], "0.095510")
    for row, lcl, ucl in ((1, "0.007335", "0.183686"), (2, "0", "0.194093"), (5, "0.011438", "0.179582"),
                          (12, "0.015017", "0.176003")):  # fmt: skip
        assert close(points[row - 1]["lcl"], lcl) and close(points[row - 1]["ucl"], ucl)
    assert signals(result) == [11]


def test_ex_7_1_5_p_chart_with_exclusions_and_a_second_part(spc):
    result = spc({"chart": "p", "values": ORANGE_JUICE, "denominators": [50] * 94, "exclude": [14, 22],
                  "parts": [30]})
    one, two = result["parts"]
    points = result["points"]
    assert (one["start"], one["stop"], two["start"], two["stop"]) == (0, 30, 30, 94)
    assert close(points[0]["cl"], "0.215") and close(points[0]["lcl"], "0.040703")
    assert close(points[0]["ucl"], "0.389297") and one["n_useful"] == 28
    assert [i for i in signals(result) if i <= 30] == [15, 21, 23]
    assert close(points[30]["cl"], "0.109687") and points[30]["lcl"] == 0 and close(points[30]["ucl"], "0.242270")
    assert (two["n_useful"], two["longest_run"], two["longest_run_max"]) == (64, 7, 9)
    assert (two["crossings"], two["crossings_min"]) == (30, 25)


def test_ex_7_4_1_u_chart(spc):
    result = spc({"chart": "u", "values": [2, 3, 8, 1, 1, 4, 1, 4, 5, 1, 8, 2, 4, 3, 4, 1, 8, 3, 7, 4],
                  "denominators": [50] * 20})
    point = result["points"][0]
    assert close(point["cl"], "0.074") and point["lcl"] == 0 and close(point["ucl"], "0.189412")
    assert (result["parts"][0]["crossings"], result["parts"][0]["crossings_min"]) == (15, 6)


def test_ex_7_5_1_u_chart_multiplied_by_50(spc):
    result = spc({"chart": "u", "values": [14, 12, 20, 11, 7, 10, 21, 16, 19, 23], "multiply": 50,
                  "denominators": [500, 400, 650, 500, 475, 500, 600, 525, 600, 625]})
    points = result["points"]
    assert close(points[0]["cl"], "1.423256")
    for row, lcl, ucl in ((1, "0.291474", "2.555038"), (2, "0.157885", "2.688626"), (3, "0.430617", "2.415894")):
        assert close(points[row - 1]["lcl"], lcl) and close(points[row - 1]["ucl"], ucl)


def test_ex_7_6_1_t_chart(spc):
    hours = [286, 948, 536, 124, 816, 729, 4, 143, 431, 8, 2837, 596, 81, 227, 603, 492, 1199, 1214, 2831, 96]
    point = spc({"chart": "t", "values": hours})["points"][0]
    assert close(point["cl"], "430.040952") and point["lcl"] == 0 and close(point["ucl"], "6937.933488")


def test_ex_6_3_xbar_and_s_charts_with_equal_subgroups(spc):
    means, sds, sizes = subgroups(table_6_4=False)
    xbar = spc({"chart": "xbar", "values": means, "sds": sds, "denominators": sizes})["points"][0]
    assert close(xbar["cl"], "74.001176") and close(xbar["lcl"], "73.98776") and close(xbar["ucl"], "74.014592")
    s = spc({"chart": "s", "values": sds, "denominators": sizes})["points"][0]
    assert close(s["cl"], "0.009399") and s["lcl"] == 0 and close(s["ucl"], "0.019636")


def test_ex_6_4_xbar_and_s_charts_with_variable_subgroups(spc):
    means, sds, sizes = subgroups(table_6_4=True)
    xbar = spc({"chart": "xbar", "values": means, "sds": sds, "denominators": sizes})["points"]
    assert close(xbar[0]["cl"], "74.000752")
    assert close(xbar[0]["lcl"], "73.986064") and close(xbar[0]["ucl"], "74.015441")
    assert close(xbar[1]["lcl"], "73.980639") and close(xbar[1]["ucl"], "74.020865")
    s = spc({"chart": "s", "values": sds, "denominators": sizes})["points"]
    assert close(s[0]["cl"], "0.010291") and close(s[0]["ucl"], "0.021498") and close(s[1]["ucl"], "0.026429")


def test_cdi_run_chart_frozen_at_24_signals_the_long_run(spc):
    result = spc({"chart": "run", "values": CDI, "freeze": 24})
    part = result["parts"][0]
    assert result["points"][0]["cl"] == 19 and result["points"][0]["ucl"] is None
    assert (part["n_useful"], part["longest_run"], part["longest_run_max"]) == (31, 15, 8)
    assert (part["crossings"], part["crossings_min"], part["runs_signal"]) == (8, 11, True)


def test_cdi_c_chart_with_a_part_at_24(spc):
    points = spc({"chart": "c", "values": CDI, "parts": [24]})["points"]
    assert close(points[0]["cl"], "18.708") and close(points[0]["ucl"], "31.684") and close(points[0]["lcl"], "5.732")
    assert close(points[24]["cl"], "7.083") and close(points[24]["ucl"], "15.068") and points[24]["lcl"] == 0


def test_mdc_rules_are_accepted(spc):
    result = spc({"chart": "i", "values": [1, 2, 1, 2, 10, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1], "rules": "mdc"})
    assert result["rules"] == "nhs_mdc" and close(result["points"][0]["ucl"], "4.60")


def fields(result: dict) -> dict[str, str]:
    return {f["field"]: f["message"] for f in result["fields"]}


def test_empty_values_are_a_422_on_values(spc):
    assert "values" in fields(spc({"chart": "i", "values": []}, 422))


def test_mismatched_lengths_are_a_422_on_denominators(spc):
    result = spc({"chart": "p", "values": [1, 2, 3], "denominators": [10, 10]}, 422)
    assert "2 items" in fields(result)["denominators"]


def test_a_zero_denominator_is_a_422_on_that_item(spc):
    result = spc({"chart": "p", "values": [1, 2, 3], "denominators": [10, 0, 10]}, 422)
    assert "denominators[1]" in fields(result)


def test_a_count_above_its_denominator_is_a_422_on_that_value(spc):
    result = spc({"chart": "p", "values": [1, 12, 3], "denominators": [10, 10, 10]}, 422)
    assert "larger than its denominator" in fields(result)["values[1]"]


def test_too_few_points_for_limits_is_a_422(spc):
    result = spc({"chart": "i", "values": [5]}, 422)
    assert "too few" in fields(result)["values"]


@pytest.mark.parametrize(("chart", "counts", "sizes", "centre", "limits"), [
    ("pp", PP_COUNTS, PP_SIZES, "0.125", PP_LIMITS),
    ("up", UP_COUNTS, UP_SIZES, "3.1", UP_LIMITS),
])
def test_laney_p_prime_and_u_prime_are_selectable_as_pp_and_up(spc, chart, counts, sizes, centre, limits):
    result = spc({"chart": chart, "values": counts, "denominators": sizes})
    assert result["chart"] == chart
    for point, (lcl, ucl) in zip(result["points"], limits, strict=True):
        assert close(point["cl"], centre) and close(point["lcl"], lcl) and close(point["ucl"], ucl)


def test_a_laney_chart_without_denominators_is_a_422(spc):
    assert "denominators" in fields(spc({"chart": "up", "values": [1, 2, 3]}, 422))


def test_a_p_chart_without_denominators_is_a_422(spc):
    assert "denominators" in fields(spc({"chart": "p", "values": [1, 2]}, 422))


def test_an_unknown_chart_type_is_a_422_on_chart(spc):
    assert "chart" in fields(spc({"chart": "pie", "values": [1, 2, 3]}, 422))


def test_an_unknown_rule_set_is_rejected(spc):
    spc({"chart": "i", "values": [1, 2, 3], "rules": "western_electric"}, 422)


def test_a_bad_part_index_is_a_422_on_parts(spc):
    assert "parts" in fields(spc({"chart": "i", "values": [1, 2, 3, 4], "parts": [3, 1]}, 422))


def test_the_api_needs_a_bearer_token(client):
    assert client.post("/api/v1/spc", json={"chart": "i", "values": [1, 2, 3]}).status_code == 401
