import polars as pl
def test_smoke(closed_jan_site):
    pl.Config.set_tbl_rows(50); pl.Config.set_tbl_cols(20); pl.Config.set_fmt_str_lengths(80); pl.Config.set_tbl_width_chars(250)
    print(closed_jan_site.lines().select("line_id","kind","rule","amount_minor","currency","period","status","payable_on","carried_from_period"))
    print(closed_jan_site.statements())
    assert 0
