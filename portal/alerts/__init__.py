"""Outbound alerts: a shared package (not a blueprint), used by the alert tasks and the channel pages.

- ``messages.build_message(kind, shops, language=, days=, on=, reason=, path=) -> AlertMessage``:
  the texts, in the company's language (kinds: AUTH_EXPIRING, AUTH_EXPIRED, CHECK_FAILED,
  CHECK_RECOVERED, SYNC_STOPPED, SYNC_FAILING, TEST); shops are ``ShopRef(name, seller_id, countries)``.
- ``platforms.send(ChannelConfig(kind, webhook_url, secret, email_to, mentions), message)
  -> DeliveryResult(ok, platform_code, platform_message, retryable, detail)``: one delivery, no retry
  (the caller retries when ``retryable``); ``DeliveryResult.summary()`` is the line to show.
- ``outbound``: the allow-list and address checks every webhook call goes through.

Call them inside an app context: settings come from ``current_app.config`` and the secrets are handed
to the log filter of that context.
"""
