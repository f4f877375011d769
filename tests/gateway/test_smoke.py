def test_smoke(api, members):
    core_acct, core_key = members.core
    sup_acct, sup_key = members.supplier
    res = api.issue(core_key, sup_acct)
    print(res)
    assert "certificate_id" in res
