"""An S3-compatible server for aqueduct's S3 tests: moto's server on 127.0.0.1, an ephemeral
port, in memory, with signature checks on. It makes one IAM user allowed everything and the
bucket `aqueduct`, prints one JSON line {"endpoint", "access_key", "secret_key"}, and serves
until its standard input closes (the test process ending closes it).

`.ci/moto` installs moto; the tests start this script with that folder on PYTHONPATH."""

import json
import os
import sys

# Requests after the first three (the IAM setup below) must be signed with a known key.
os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "3"

import boto3  # noqa: E402
import moto  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

# The version .ci/moto installs: another (a system-wide moto) checks signatures differently.
if moto.__version__ != "5.2.6":
    sys.exit(f"moto 5.2.6 is needed, found {moto.__version__} at {moto.__file__}")

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
endpoint = f"http://{host}:{port}"

setup = dict(
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="setup",
    aws_secret_access_key="setup",
)
iam = boto3.client("iam", **setup)
iam.create_user(UserName="aqueduct")
key = iam.create_access_key(UserName="aqueduct")["AccessKey"]
iam.put_user_policy(
    UserName="aqueduct",
    PolicyName="everything",
    PolicyDocument=json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
    ),
)
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id=key["AccessKeyId"],
    aws_secret_access_key=key["SecretAccessKey"],
)
s3.create_bucket(Bucket="aqueduct")

print(
    json.dumps(
        {
            "endpoint": endpoint,
            "access_key": key["AccessKeyId"],
            "secret_key": key["SecretAccessKey"],
        }
    ),
    flush=True,
)
sys.stdin.read()
server.stop()
