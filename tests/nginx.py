"""nginx terminating TLS in front of the web processes, as ops/nginx/ocktoreis.conf.template
says, with a certificate from a throw-away local certificate authority.

nginx runs from the test's own folder (its own configuration, pid file, logs and temporary
files; never as a daemon), on a free high port, as root (CI) or not. Chromium trusts the
authority through an NSS database in a HOME of its own (`trust_in_nss`), so service workers
work as on a real site; Python clients trust it through `ca_file`.
"""

import datetime
import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.services import free_port, unavailable

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "ops" / "nginx" / "ocktoreis.conf.template"
HOST = "127.0.0.1"
# One line per request: the client, the request, the answer, and which web process answered.
LOG_FORMAT = '$remote_addr "$request" $status upstream=$upstream_addr:$upstream_status'


def render(template, values):
    """The template with each ${NAME} replaced, as envsubst with a list of names does (nginx's
    own $variables stay); a name without a value is an error."""
    text = re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], template)
    assert "${" not in text, text
    return text


def make_certificates(folder, host=HOST):
    """A throw-away CA and a certificate for `host` signed by it: (CA file, cert, key)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Ocktoreis test CA (throw-away)")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(host)), x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    return ca_file, cert_file, key_file


def trust_in_nss(home, ca_file):
    """A HOME whose NSS database (what Chromium on Linux reads) trusts the CA for servers."""
    certutil = shutil.which("certutil")
    if certutil is None:
        unavailable("certutil", "apt-get install libnss3-tools")
    database = home / ".pki" / "nssdb"
    database.mkdir(parents=True, exist_ok=True)
    subprocess.run([certutil, "-N", "-d", f"sql:{database}", "--empty-password"], check=True,
                   capture_output=True)
    subprocess.run([certutil, "-A", "-d", f"sql:{database}", "-n", "Ocktoreis test CA",
                    "-t", "C,,", "-i", str(ca_file)], check=True, capture_output=True)
    return home


class Nginx:
    """ops/nginx's configuration in front of `webs` ("127.0.0.1:port" each), from `folder`."""

    def __init__(self, folder, webs, cert_file, key_file):
        self.binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.path.exists(self.binary):
            unavailable("nginx", "apt-get install nginx")
        self.folder = folder
        self.port, self.http_port = free_port(), free_port()
        self.url = f"https://{HOST}:{self.port}"
        self.access_log = folder / "access.log"
        self.error_log = folder / "error.log"
        site = render(TEMPLATE.read_text(), {
            "OCKTOREIS_SERVER_NAME": HOST, "OCKTOREIS_HTTPS_PORT": str(self.port),
            "OCKTOREIS_HTTP_PORT": f"{HOST}:{self.http_port}", "OCKTOREIS_CERTIFICATE": str(cert_file),
            "OCKTOREIS_CERTIFICATE_KEY": str(key_file), "OCKTOREIS_WEB_1": webs[0],
            "OCKTOREIS_WEB_2": webs[1]})
        site = site.replace(f"listen {self.port} ssl", f"listen {HOST}:{self.port} ssl")
        (folder / "ocktoreis.conf").write_text(site)
        temp = folder / "temp"
        temp.mkdir(exist_ok=True)
        # As root nginx would run its workers as nobody, who cannot enter the test's folder.
        user = "user root;" if os.geteuid() == 0 else ""
        (folder / "nginx.conf").write_text(f"""
{user}
worker_processes 1;
worker_rlimit_nofile 16384;
pid {folder / 'nginx.pid'};
error_log {self.error_log} info;
events {{ worker_connections 8192; }}  # an open stream holds two
http {{
    log_format ocktoreis '{LOG_FORMAT}';
    access_log {self.access_log} ocktoreis;
    client_body_temp_path {temp / 'body'};
    proxy_temp_path {temp / 'proxy'};
    fastcgi_temp_path {temp / 'fastcgi'};
    uwsgi_temp_path {temp / 'uwsgi'};
    scgi_temp_path {temp / 'scgi'};
    include {folder / 'ocktoreis.conf'};
}}
""")
        self.process = None

    def start(self):
        with open(self.folder / "nginx.stderr", "w") as stderr:
            self.process = subprocess.Popen(
                [self.binary, "-p", str(self.folder), "-c", str(self.folder / "nginx.conf"),
                 "-e", str(self.error_log), "-g", "daemon off;"],
                stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + 30
        while True:
            assert self.process.poll() is None, (self.folder / "nginx.stderr").read_text()
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
                return self
            except OSError:
                assert time.monotonic() < deadline, "nginx did not listen"
                time.sleep(0.05)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finish what is open
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def statuses(self):
        """The status of every request answered so far, from the access log."""
        lines = self.access_log.read_text().splitlines() if self.access_log.exists() else []
        return [(int(line.split('" ', 1)[1].split()[0]), line) for line in lines]
