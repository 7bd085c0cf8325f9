"""The human page for a certificate: facts, issuer, validity, key, log position and a QR code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import segno
from jinja2 import Environment, FileSystemLoader, select_autoescape

from market.certification.offline import VerificationResult

TITLES = {
    "rights_confirmation": "自然资源确权登记证书 Rights confirmation",
    "eco_product_certification": "生态产品认证证书 Eco-product certification",
    "batch_issuance": "签发证书 Batch issuance",
    "transfer": "转让证书 Transfer",
    "retirement": "注销证书 Retirement",
    "pledge": "质押证书 Pledge",
    "pledge_release": "解除质押证书 Pledge release",
    "trade": "交易鉴证书 Trade certificate",
    "block_trade": "大宗协议交易鉴证书 Block trade certificate",
}
_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)


def render_verify_page(
    *,
    certificate: dict[str, Any],
    result: VerificationResult,
    issuer_name: str,
    public_key: str,
    head: dict[str, Any],
    included: bool,
    page_url: str,
) -> str:
    payload = certificate["payload"]
    skip = {"kind", "id", "issued_at", "issuer"}
    facts = [
        (name, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
        for name, value in payload.items()
        if name not in skip
    ]
    qr = segno.make(page_url, error="m")
    return _env.get_template("verify.html").render(
        certificate=certificate,
        result=result,
        title=TITLES.get(certificate["kind"], certificate["kind"]),
        facts=facts,
        issuer_name=issuer_name,
        public_key=public_key,
        head=head,
        included=included,
        qr_data_uri=qr.svg_data_uri(scale=4),
    )
