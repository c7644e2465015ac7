"""
Runs HL Connect's official Python SDK (hlconnect_client, spec 0.2, unchanged) against a server —
our sandbox by default — through every endpoint, with the SDK's strict pydantic decoding of every
catalog page. The SDK is not part of this project: check it out elsewhere and put it on PYTHONPATH.

    # a checkout of the public repository HLConnect/hlconnect-python in /tmp/hlconnect-python
    pip install 'pydantic>=2' 'urllib3>=2.1,<3' python-dateutil typing-extensions
    npm start   # or: PORT=4010 pnpm --filter @hlconnect/sandbox start
    PYTHONPATH=/tmp/hlconnect-python python3 tools/official-sdk/check.py http://127.0.0.1:4010 <sandbox token>

Exit 0 when every endpoint answered as documented; the first failure ends it with a traceback.
"""
import sys
import time
import hlconnect_client as hl
from hlconnect_client.rest import ApiException
base = sys.argv[1]; token = sys.argv[2]
cfg = hl.Configuration(host=base, access_token=token)
ok = []
with hl.ApiClient(cfg) as c:
    print("health", hl.HealthApi(c).health()); ok.append("health")
    assets = hl.AssetsApi(c); last = 0; pages = 0; n = 0
    while True:
        page = assets.assets_list(page_size=50, last_id=last)
        pages += 1; n += len(page.assets)
        if page.next_page is None: break
        last = page.last_id
    print("catalog pages", pages, "assets", n); ok.append("assets_list")
    a4003 = assets.assets_list(page_size=1, last_id=4002).assets[0]
    print("4003 packages", [(p.asset_id, p.instrumentation_part_code, p.score) for p in a4003.packages], "instruments", a4003.instruments[0])
    p = hl.PurchaseApi(c)
    tok = p.connector_purchase_validate_purchase_before_payment(hl.PurchaseValidateBeforePaymentRequest(asset_id=4003, customer_ip="192.0.2.10", quantity=1))
    print("token", tok.exp_date); ok.append("validate")
    order = int(time.time() * 1000) % 1_000_000_000
    p.connector_purchase_register(hl.PurchaseRegisterRequest(token=tok.token, order_number=order, order_line_id=1, line_item_price=12.5, unit_price=12.5, customer="John Customer", parts=[hl.AssetPartForm(asset_id=4004, order_line_id=2)])); ok.append("register")
    try:
        p.connector_purchase_register(hl.PurchaseRegisterRequest(token=tok.token, order_number=order, order_line_id=1, line_item_price=12.5, unit_price=12.5, customer="John Customer"))
    except ApiException as e:
        print("repeat register", e.status); assert e.status == 409
    for _ in range(60):
        r = p.connector_purchase_info_with_http_info(order_id=order)
        if r.status_code == 200: break
        time.sleep(0.25)
    print("info", r.status_code, [(i.order_line_id, i.status) for i in r.data], r.headers.get("X-Environment")); ok.append("info")
    print("download", p.connector_purchase_download_url(order_id=order, order_line_id=1).url[:30] + "…"); ok.append("download_url")
    print("view", (p.connector_purchase_view_url(order_id=order, order_line_id=2).url or "")[:30] + "…"); ok.append("view_url")
    p.connector_purchase_cancel(order_id=order, order_line_id=2); ok.append("cancel")
    for fn, kw in [(p.connector_purchase_info, dict(order_id=999999999)), (p.connector_purchase_download_url, dict(order_id=999999999, order_line_id=1)), (p.connector_purchase_view_url, dict(order_id=999999999, order_line_id=1)), (p.connector_purchase_cancel, dict(order_id=999999999, order_line_id=1))]:
        try: fn(**kw); print("expected 404"); sys.exit(1)
        except ApiException as e: assert e.status == 404, e.status
    ok.append("404s")
    try:
        hl.AssetsApi(hl.ApiClient(hl.Configuration(host=base, access_token="wrong"))).assets_list()
    except ApiException as e:
        assert e.status == 401; ok.append("401")
print("PASS", ok)
