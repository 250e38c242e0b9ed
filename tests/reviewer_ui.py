"""The reviewer UI in a real browser (system Chromium driven by Playwright).

Usage: reviewer_ui.py BASE_URL OUT_DIR USER PASSWORD ATTACHMENT_SHA256

At a desktop (1280x800) and a phone (390x844) viewport: log in, search 农业 and see both
农业局 and 中国农业发展银行 highlighted, open the conversation and see the withdrawn message's
original text and the edited message's revisions, download the attachment, try a chat outside
the user's scope (403), open the audit page (the withdrawn message's original text, not the
other chat's withdrawal; filtered to withdrawals, then on to the conversation) and the status
page (the connector, the chain head, the last export), log out. Every page is screenshotted into OUT_DIR and checked for
horizontal overflow. Exits non-zero (an AssertionError) on the first failure.
"""

import hashlib
import os
import sys

from playwright.sync_api import sync_playwright

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORTS = [("desktop", {"width": 1280, "height": 800}), ("phone", {"width": 390, "height": 844})]


def main():
    base, out, user, password, sha = sys.argv[1:6]
    os.makedirs(out, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS, headless=True)
        for name, viewport in VIEWPORTS:
            run(browser, base, out, name, viewport, user, password, sha)
        browser.close()
    print("browser checks passed")


def shot(page, out, name):
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    page.screenshot(path=os.path.join(out, name + ".png"), full_page=True)
    assert overflow <= 0, f"{name}: the page is {overflow}px wider than the viewport"


def run(browser, base, out, name, viewport, user, password, sha):
    ctx = browser.new_context(viewport=viewport, locale="zh-CN", accept_downloads=True)
    page = ctx.new_page()

    page.goto(base + "/")
    assert page.url == base + "/login", f"anonymous / went to {page.url}"
    assert page.locator("input[name=csrf]").count() == 1, "the login form has a CSRF field"
    shot(page, out, f"{name}-1-login")
    page.fill("#user", user)
    page.fill("#password", password)
    page.click("form.login button[type=submit]")
    page.wait_for_url(base + "/")
    shot(page, out, f"{name}-2-search-form")

    page.fill("input[name=q]", "农业")
    page.click("form.search button[type=submit]")
    page.wait_for_url("**/search?**")
    hits = page.locator("div.hit").all_inner_texts()
    text = "\n".join(hits)
    assert any("农业局" in h for h in hits), text
    assert any("中国农业发展银行" in h for h in hits), text
    assert "机密" not in page.content(), "a chat outside the scope showed up"
    marks = page.locator("div.hit mark").all_inner_texts()
    assert len(marks) >= 2 and set(marks) == {"农业"}, marks
    shot(page, out, f"{name}-3-results")

    page.locator("div.hit a", has_text="农业项目群").first.click()
    page.wait_for_url("**/chat/**")
    body = page.inner_text("main")
    assert "这条消息说错了：报价八十万" in body, "the withdrawn message's original text"
    assert "已撤回" in body
    assert "合同金额是一百万" in body and "合同金额是两百万" in body, "both revisions"
    shot(page, out, f"{name}-4-conversation")

    with page.expect_download() as d:
        page.click("text=合同.pdf")
    data = open(d.value.path(), "rb").read()
    assert hashlib.sha256(data).hexdigest() == sha, "the downloaded attachment's bytes"

    page.locator("div.msg a", has_text="详情").first.click()
    page.wait_for_url("**/message/**")
    page.click("text=校验此消息")
    page.wait_for_url("**verify=1")
    assert "哈希链校验通过" in page.inner_text("main")
    shot(page, out, f"{name}-5-message")

    resp = page.goto(base + "/chat/yunhu/team/c2")
    assert resp.status == 403, resp.status
    assert "机密" not in page.content()
    shot(page, out, f"{name}-6-denied")

    page.goto(base + "/")
    page.click("header a[href='/audit']")
    page.wait_for_url(base + "/audit")
    body = page.inner_text("main")
    assert "这条消息说错了：报价八十万" in body, "the withdrawn message's original text on the audit page"
    assert "撤回者：u1" in body, body
    assert "合同金额是一百万" in body and "合同金额是两百万" in body, "the edit's revisions"
    assert "yunhu-outage" in body, "the connector's gap"
    assert "机密" not in page.content(), "another chat's withdrawal showed up"
    shot(page, out, f"{name}-7-audit")
    page.select_option("select[name=kind]", "withdrawn")
    page.click("form.search button[type=submit]")
    page.wait_for_url("**/audit?**kind=withdrawn**")
    body = page.inner_text("main")
    assert "报价八十万" in body and "合同金额" not in body and "yunhu-outage" not in body, body
    page.locator("div.msg a", has_text="农业项目群").first.click()
    page.wait_for_url("**/chat/yunhu/team/c1?at=m4")
    assert page.locator("div.msg.focus").inner_text().find("报价八十万") >= 0, "focused on the withdrawn message"

    page.click("header a[href='/status']")
    page.wait_for_url(base + "/status")
    body = page.inner_text("main")
    assert "team" in body and "connected" in body, body
    assert "seq " in body and "尚无导出记录" not in body, "chain head and the last export"
    assert "仅管理员" not in body, "a reviewer gets no archive-wide counts"
    shot(page, out, f"{name}-8-status")

    page.goto(base + "/")
    page.click("header form button")
    page.wait_for_url(base + "/login")
    resp = page.goto(base + "/search?q=%E5%86%9C%E4%B8%9A")
    assert page.url == base + "/login", "logged out: results need a login again"
    ctx.close()


if __name__ == "__main__":
    main()
