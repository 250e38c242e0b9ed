"""Posts WeCom callbacks signed and encrypted by PyPI wechatpy to a running receiver.

Driven by ingest/tests/wecom_receiver.rs. Prints one JSON object per case:
{"case": ..., "status": ..., "body": ...}. Uses only wechatpy's WeChatCrypto (the
independent implementation) and the standard library.
"""

import argparse
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

try:  # wechatpy >= 2 names it `work`, 1.x `enterprise`
    from wechatpy.work.crypto import WeChatCrypto
except ImportError:
    from wechatpy.enterprise.crypto import WeChatCrypto


def request(url, data=None):
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def envelope(crypto, xml, nonce, timestamp, corp_id):
    """wechatpy builds the reply envelope; WeCom's POST carries the same Encrypt value in a
    ToUserName/Encrypt/AgentID body with the signature in the query."""
    reply = crypto.encrypt_message(xml, nonce, timestamp)
    encrypt = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>", reply).group(1)
    signature = re.search(r"<MsgSignature><!\[CDATA\[(.*?)\]\]></MsgSignature>", reply).group(1)
    body = (
        "<xml><ToUserName><![CDATA[%s]]></ToUserName><Encrypt><![CDATA[%s]]></Encrypt>"
        "<AgentID><![CDATA[1000002]]></AgentID></xml>" % (corp_id, encrypt)
    )
    return signature, body.encode("utf-8"), encrypt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--corp-id", required=True)
    a = ap.parse_args()
    crypto = WeChatCrypto(a.token, a.key, a.corp_id)
    now = int(time.time())
    head = (
        "<xml><ToUserName><![CDATA[{c}]]></ToUserName><FromUserName><![CDATA[{f}]]></FromUserName>"
        "<CreateTime>{t}</CreateTime><MsgType><![CDATA[{m}]]></MsgType>"
    )

    def h(f, m, t=now):
        return head.format(c=a.corp_id, f=f, t=t, m=m)

    cases = [
        ("text", h("zhangsan", "text") + "<Content><![CDATA[wechatpy 你好 & <ok>]]></Content><MsgId>8800000000000000001</MsgId><AgentID>1000002</AgentID></xml>"),
        ("change_contact", h("sys", "event") + "<Event><![CDATA[change_contact]]></Event><ChangeType>create_user</ChangeType><UserID>py_user</UserID><Name><![CDATA[派森]]></Name></xml>"),
        ("change_external_contact", h("sys", "event") + "<Event><![CDATA[change_external_contact]]></Event><ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID><ExternalUserID><![CDATA[woAJ2GCAAAXtWyujaWJHDDGi0mAAAA]]></ExternalUserID></xml>"),
        ("change_external_chat", h("sys", "event") + "<Event><![CDATA[change_external_chat]]></Event><ChatId><![CDATA[wrPyChat]]></ChatId><ChangeType><![CDATA[create]]></ChangeType></xml>"),
        ("sys_approval_change", h("sys", "event") + "<Event><![CDATA[sys_approval_change]]></Event><AgentID>3010040</AgentID><ApprovalInfo><SpNo>202603020009</SpNo><SpStatus>1</SpStatus></ApprovalInfo></xml>"),
    ]

    # URL verification: echostr is an encrypted random number, signed like a message.
    expected = "4466442257189834"
    sig, _, echostr = envelope(crypto, expected, "5551234", str(now), a.corp_id)
    q = urllib.parse.urlencode({"msg_signature": sig, "timestamp": str(now), "nonce": "5551234", "echostr": echostr})
    status, body = request(a.url + "?" + q)
    # wechatpy's own check must accept what the receiver was given.
    assert crypto.check_signature(sig, str(now), "5551234", echostr) == expected
    print(json.dumps({"case": "echostr", "status": status, "body": body, "expected": expected}))

    first_text = None
    for i, (case, xml) in enumerate(cases):
        nonce, ts = str(1000 + i), str(now)
        sig, body, _ = envelope(crypto, xml, nonce, ts, a.corp_id)
        q = urllib.parse.urlencode({"msg_signature": sig, "timestamp": ts, "nonce": nonce})
        if case == "text":
            first_text = (q, body)
        status, resp = request(a.url + "?" + q, body)
        print(json.dumps({"case": case, "status": status, "body": resp}))

    # WeCom's retry: the same request again.
    status, resp = request(a.url + "?" + first_text[0], first_text[1])
    print(json.dumps({"case": "text_retry", "status": status, "body": resp}))

    # A signature made with another token.
    other = WeChatCrypto(a.token + "x", a.key, a.corp_id)
    sig, body, _ = envelope(other, cases[0][1], "77", str(now), a.corp_id)
    q = urllib.parse.urlencode({"msg_signature": sig, "timestamp": str(now), "nonce": "77"})
    status, resp = request(a.url + "?" + q, body)
    print(json.dumps({"case": "bad_signature", "status": status, "body": resp}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
