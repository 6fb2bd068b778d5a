"""The README's webhook receiver, as written, accepts what we sign and refuses a forgery."""
import re
import time

from pomodoro import webhook_rules

from .conftest import ROOT


def readme_receiver(secret: str):
    section = (ROOT / "README.md").read_text().split("\n## Integrations: API tokens and webhooks\n", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) <= 16, "about ten lines"
    namespace = {"__name__": "readme_receiver"}
    exec(compile(code.replace('"whsec_..."', repr(secret)), "README.md", "exec"), namespace)  # noqa: S102
    return namespace["app"].test_client()


def test_the_readme_receiver_verifies_our_signature():
    secret = webhook_rules.new_secret()
    receiver = readme_receiver(secret)
    body, timestamp = '{"type":"webhook.test","timestamp":"2026-12-01T10:00:00.000Z","data":{}}', int(time.time())
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(timestamp), "Content-Type": "application/json",
               "webhook-signature": webhook_rules.sign([secret], "msg_1", timestamp, body)}
    assert receiver.post("/pomodoro", data=body, headers=headers).status_code == 204
    forged = {**headers, "webhook-signature": webhook_rules.sign([webhook_rules.new_secret()], "msg_1", timestamp, body)}
    assert receiver.post("/pomodoro", data=body, headers=forged).status_code == 400
