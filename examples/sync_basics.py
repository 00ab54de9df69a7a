"""The blocking API (what notebooks use): no async, works in Jupyter, scripts and the REPL.

    python examples/sync_basics.py
"""

from thoonk_actors import sync

t = sync.connect()  # embedded Redis, or sync.connect("redis://..."), or $THOONK_REDIS_URL
emails = t.job("emails")
job_id = emails.publish({"to": "ada@example.org"})
job = emails.get(timeout=5)  # Ctrl-C / a kernel interrupt stops a blocking call
assert job is not None
emails.finish(job, {"sent": True})
print(emails.wait_result(job_id, timeout=5))

news = t.feed("news")
with news.events(timeout=5) as events:  # subscribed before anything below is published
    news.publish({"title": "hello"})
    print(next(events))
t.close()  # also done at interpreter exit
