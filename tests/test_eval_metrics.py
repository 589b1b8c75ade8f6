"""Metrics of batch evaluation on hand-made predictions with known answers."""

import pytest

from neuroaudio.eval.metrics import (
    FAILED_ERROR_DEG,
    compute_metrics,
    group_key,
    prediction_error,
    sort_group_keys,
    summarize,
)


def test_prediction_error_wraps_around():
    assert prediction_error(359.0, 1.0) == pytest.approx(2.0)
    assert prediction_error(1.0, 359.0) == pytest.approx(2.0)
    assert prediction_error(0.0, 180.0) == pytest.approx(180.0)
    assert prediction_error(350.0, 10.0 + 720.0) == pytest.approx(20.0)
    assert prediction_error(None, 10.0) is None


def _row(method, err, snr, room="a", status="ok"):
    return {"path": "x.wav", "azimuth_deg": "0", "snr_db": snr, "room": room, "method": method,
            "pred_azimuth_deg": None if err is None else err, "error_deg": err,
            "confidence": 0.5, "status": status}


def test_summary_counts_failed_rows_as_180_degrees():
    s = summarize([2.0, 0.0, 10.0, None])
    assert s["n"] == 4 and s["n_failed"] == 1
    assert s["mae_deg"] == pytest.approx((2 + 0 + 10 + FAILED_ERROR_DEG) / 4)
    assert s["median_error_deg"] == pytest.approx(6.0)
    assert s["acc5"] == pytest.approx(0.5)       # 2 and 0 of 4 rows
    assert s["acc10"] == pytest.approx(0.75)     # 10 <= 10 counts
    assert s["mae_ok_deg"] == pytest.approx(4.0)
    empty = summarize([])
    assert empty["n"] == 0 and empty["mae_deg"] is None


def test_metrics_per_method_and_group():
    rows = [
        _row("a", prediction_error(359, 1), "10"),            # 2 degrees, wrap-around
        _row("a", 4.0, "10.0", room="b"),                     # same SNR group as "10"
        _row("a", 30.0, "-5"),
        _row("a", None, "-5", room="b", status="error: x.wav: no such file; check the path"),
        _row("b", 0.0, "10"),
        _row("b", 12.0, "10", room="b"),
        _row("b", 5.0, "-5"),
        _row("b", 7.0, "-5", room="b", status="error: no source detected (null azimuth)"),
    ]
    m = compute_metrics(rows, group_by=["room"])
    assert list(m) == ["a", "b"]
    a, b = m["a"], m["b"]
    assert (a["n"], a["n_failed"]) == (4, 1)
    assert a["mae_deg"] == pytest.approx((2 + 4 + 30 + 180) / 4)
    assert a["acc5"] == pytest.approx(0.5) and a["acc10"] == pytest.approx(0.5)
    assert list(a["groups"]) == ["snr_db", "room"]
    assert list(a["groups"]["snr_db"]) == ["-5", "10"]          # numeric order, canonical keys
    g10, gm5 = a["groups"]["snr_db"]["10"], a["groups"]["snr_db"]["-5"]
    assert (g10["n"], g10["n_failed"], g10["mae_deg"], g10["acc5"]) == (2, 0, 3.0, 1.0)
    assert (gm5["n"], gm5["n_failed"], gm5["mae_deg"], gm5["acc10"]) == (2, 1, 105.0, 0.0)
    assert a["groups"]["room"]["b"]["mae_deg"] == pytest.approx((4 + 180) / 2)
    # a non-ok status is a failure even if an error value is present
    assert (b["n_failed"], b["mae_deg"]) == (1, pytest.approx((0 + 12 + 5 + 180) / 4))
    assert b["groups"]["snr_db"]["10"]["acc10"] == pytest.approx(0.5)
    assert b["median_error_deg"] == pytest.approx(8.5)


def test_group_keys():
    assert group_key("10.0") == "10" and group_key(-5) == "-5" and group_key("2.50") == "2.5"
    assert group_key("") == "(none)" and group_key("office") == "office"
    assert sort_group_keys(["10", "(none)", "-5", "2.5"]) == ["-5", "2.5", "10", "(none)"]
    assert sort_group_keys(["b", "a"]) == ["a", "b"]


def test_report_tables_show_the_numbers():
    from neuroaudio.eval.report import markdown_table, table_rows, wide_markdown_table

    rows = [_row("a", 2.0, "10"), _row("a", 30.0, "-5"), _row("b", 0.0, "10"), _row("b", None, "-5")]
    m = compute_metrics(rows)
    assert table_rows(m)[0] == ["a", "all", "2", "0", "16.0", "16.0", "50.0", "50.0"]
    assert table_rows(m)[-1] == ["b", "10", "1", "0", "0.0", "0.0", "100.0", "100.0"]
    md = markdown_table(m)
    assert md.splitlines()[0].startswith("| method | SNR (dB) | n | failed | MAE")
    wide = wide_markdown_table(m, "mae_deg").splitlines()
    assert wide[0] == "| method | -5 dB | 10 dB | all |"
    assert wide[2] == "| a | 30.0 | 2.0 | 16.0 |" and wide[3] == "| b | 180.0 | 0.0 | 90.0 |"
