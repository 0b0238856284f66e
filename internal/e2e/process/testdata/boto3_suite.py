"""A black-box check of Strongroom with boto3, as users drive it.

Run by process/boto3_test.go against `strongroom serve`; prints BOTO3-OK at
the end. Every check raises on failure.
"""
import base64
import os
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint = os.environ["ENDPOINT"]
cfg = Config(retries={"max_attempts": 1})
kms = boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1", config=cfg)
kms_eu = boto3.client("kms", endpoint_url=endpoint, region_name="eu-west-1", config=cfg)


def expect_error(code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, f"{fn.__name__}: got {got} ({e.response['Error'].get('Message')}), want {code}"
        assert 400 <= e.response["ResponseMetadata"]["HTTPStatusCode"] < 500, e.response
        return e
    raise AssertionError(f"{fn.__name__}: no error, want {code}")


# Keys.
key = kms.create_key(Description="boto3", Tags=[{"TagKey": "team", "TagValue": "blue"}])["KeyMetadata"]
assert key["KeyState"] == "Enabled" and key["Enabled"] is True
assert key["Arn"].endswith(key["KeyId"]) and key["KeySpec"] == "SYMMETRIC_DEFAULT"
assert key["CreationDate"].year >= 2024, key["CreationDate"]
kid = key["KeyId"]
kms.create_alias(AliasName="alias/boto3", TargetKeyId=kid)
d = kms.describe_key(KeyId="alias/boto3")["KeyMetadata"]
assert d["KeyId"] == kid

# Envelope encryption.
dk = kms.generate_data_key(KeyId="alias/boto3", KeySpec="AES_256", EncryptionContext={"app": "test"})
assert len(dk["Plaintext"]) == 32 and dk["KeyId"] == key["Arn"]
dec = kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext={"app": "test"})
assert dec["Plaintext"] == dk["Plaintext"] and dec["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=dk["CiphertextBlob"], EncryptionContext={"app": "other"})
nop = kms.generate_data_key_without_plaintext(KeyId=kid, NumberOfBytes=64)
assert "Plaintext" not in nop

# Encrypt / Decrypt / ReEncrypt.
enc = kms.encrypt(KeyId=kid, Plaintext=b"hello boto3")
assert enc["KeyId"] == key["Arn"] and enc["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
assert kms.decrypt(CiphertextBlob=enc["CiphertextBlob"])["Plaintext"] == b"hello boto3"
key2 = kms.create_key()["KeyMetadata"]
expect_error("IncorrectKeyException", kms.decrypt, CiphertextBlob=enc["CiphertextBlob"], KeyId=key2["KeyId"])
re = kms.re_encrypt(CiphertextBlob=enc["CiphertextBlob"], DestinationKeyId=key2["KeyId"])
assert re["SourceKeyId"] == key["Arn"] and re["KeyId"] == key2["Arn"]
assert kms.decrypt(CiphertextBlob=re["CiphertextBlob"])["Plaintext"] == b"hello boto3"
big = os.urandom(1 << 20)
assert kms.decrypt(CiphertextBlob=kms.encrypt(KeyId=kid, Plaintext=big)["CiphertextBlob"])["Plaintext"] == big
e = expect_error("ValidationException", kms.encrypt, KeyId=kid, Plaintext=big + b"x")
assert "GenerateDataKey" in e.response["Error"]["Message"]
assert len(kms.generate_random(NumberOfBytes=1024)["Plaintext"]) == 1024

# Regions: a key lives in its region.
expect_error("NotFoundException", kms_eu.describe_key, KeyId=kid)

# Validation.
expect_error("ValidationException", kms.generate_data_key, KeyId=kid)
expect_error("ValidationException", kms.generate_data_key, KeyId=kid, NumberOfBytes=16, KeySpec="AES_256")
expect_error("NotFoundException", kms.describe_key, KeyId="alias/nope")
expect_error("NotFoundException", kms.describe_key, KeyId="1234abcd-12ab-34cd-56ef-1234567890ab")
expect_error("AlreadyExistsException", kms.create_alias, AliasName="alias/boto3", TargetKeyId=kid)

# Listing and paging.
pages = list(kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 1}))
ids = [k["KeyId"] for p in pages for k in p["Keys"]]
assert kid in ids and key2["KeyId"] in ids and len(ids) == len(set(ids))
aliases = [a["AliasName"] for a in kms.list_aliases(KeyId=kid)["Aliases"]]
assert aliases == ["alias/boto3"], aliases

# Tags, description, policy.
kms.tag_resource(KeyId=kid, Tags=[{"TagKey": "env", "TagValue": "ci"}])
kms.untag_resource(KeyId=kid, TagKeys=["team"])
tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=kid)["Tags"]}
assert tags == {"env": "ci"}, tags
kms.update_key_description(KeyId=kid, Description="changed")
assert kms.describe_key(KeyId=kid)["KeyMetadata"]["Description"] == "changed"
assert kms.list_key_policies(KeyId=kid)["PolicyNames"] == ["default"]
pol = kms.get_key_policy(KeyId=kid, PolicyName="default")["Policy"]
assert ":root" in pol

# States.
kms.disable_key(KeyId=kid)
expect_error("DisabledException", kms.encrypt, KeyId=kid, Plaintext=b"x")
kms.enable_key(KeyId=kid)
sched = kms.schedule_key_deletion(KeyId=key2["KeyId"], PendingWindowInDays=7)
assert sched["KeyState"] == "PendingDeletion" and sched["PendingWindowInDays"] == 7
expect_error("KMSInvalidStateException", kms.encrypt, KeyId=key2["KeyId"], Plaintext=b"x")
kms.cancel_key_deletion(KeyId=key2["KeyId"])
assert kms.describe_key(KeyId=key2["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"

# DryRun.
expect_error("DryRunOperationException", kms.encrypt, KeyId=kid, Plaintext=b"x", DryRun=True)

# Grants.
g = kms.create_grant(KeyId=kid, GranteePrincipal="arn:aws:iam::111122223333:user/someone", Operations=["Encrypt"])
assert any(x["GrantId"] == g["GrantId"] for x in kms.list_grants(KeyId=kid)["Grants"])
kms.revoke_grant(KeyId=kid, GrantId=g["GrantId"])

# IAM and STS on the same endpoint.
iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", config=cfg)
sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1", config=cfg)
assert sts.get_caller_identity()["Account"] == "111122223333"
iam.create_user(UserName="bob")
ak = iam.create_access_key(UserName="bob")["AccessKey"]
bob = boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1", config=cfg,
                   aws_access_key_id=ak["AccessKeyId"], aws_secret_access_key=ak["SecretAccessKey"])
expect_error("AccessDeniedException", bob.encrypt, KeyId=kid, Plaintext=b"x")
iam.put_user_policy(UserName="bob", PolicyName="enc", PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}]}')
bob.encrypt(KeyId=kid, Plaintext=b"x")

# Asymmetric keys: sign with the service, verify with the service.
sk = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
assert sk["SigningAlgorithms"] == ["ECDSA_SHA_256"], sk
pub = kms.get_public_key(KeyId=sk["KeyId"])
assert pub["KeySpec"] == "ECC_NIST_P256" and len(pub["PublicKey"]) > 60
sig = kms.sign(KeyId=sk["KeyId"], Message=b"msg", MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
assert kms.verify(KeyId=sk["KeyId"], Message=b"msg", MessageType="RAW", Signature=sig, SigningAlgorithm="ECDSA_SHA_256")["SignatureValid"]
expect_error("KMSInvalidSignatureException", kms.verify, KeyId=sk["KeyId"], Message=b"other", MessageType="RAW", Signature=sig, SigningAlgorithm="ECDSA_SHA_256")
expect_error("InvalidKeyUsageException", kms.encrypt, KeyId=sk["KeyId"], Plaintext=b"x")
rk = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
ct = kms.encrypt(KeyId=rk["KeyId"], Plaintext=b"rsa", EncryptionAlgorithm="RSAES_OAEP_SHA_256")["CiphertextBlob"]
assert kms.decrypt(KeyId=rk["KeyId"], CiphertextBlob=ct, EncryptionAlgorithm="RSAES_OAEP_SHA_256")["Plaintext"] == b"rsa"
hk = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
mac = kms.generate_mac(KeyId=hk["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
assert kms.verify_mac(KeyId=hk["KeyId"], Message=b"m", Mac=mac, MacAlgorithm="HMAC_SHA_256")["MacValid"]
pair = kms.generate_data_key_pair(KeyId=kid, KeyPairSpec="ECC_NIST_P256")
assert pair["KeyPairSpec"] == "ECC_NIST_P256" and pair["PrivateKeyPlaintext"] and pair["PublicKey"]

# Rotation.
st = kms.get_key_rotation_status(KeyId=kid)
assert st["KeyRotationEnabled"] is False, st
kms.enable_key_rotation(KeyId=kid, RotationPeriodInDays=90)
st = kms.get_key_rotation_status(KeyId=kid)
assert st["KeyRotationEnabled"] is True and st["RotationPeriodInDays"] == 90, st
old = kms.encrypt(KeyId=kid, Plaintext=b"before rotation")["CiphertextBlob"]
kms.rotate_key_on_demand(KeyId=kid)
rots = kms.list_key_rotations(KeyId=kid)["Rotations"]
assert len(rots) == 1 and rots[0]["RotationType"] == "ON_DEMAND", rots
assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"before rotation"
expect_error("UnsupportedOperationException", kms.enable_key_rotation, KeyId=sk["KeyId"])

# AWS managed keys appear on first use and cannot be changed.
m = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
assert m["KeyManager"] == "AWS", m
assert any(a["AliasName"] == "alias/aws/s3" and a.get("TargetKeyId") == m["KeyId"] for a in kms.list_aliases()["Aliases"])
try:
    kms.schedule_key_deletion(KeyId=m["KeyId"])
    raise AssertionError("an AWS managed key was scheduled for deletion")
except ClientError as e:
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] < 500, e.response

# Multi-Region keys.
mrk = kms.create_key(MultiRegion=True)["KeyMetadata"]
assert mrk["KeyId"].startswith("mrk-") and mrk["MultiRegion"] is True
kms.replicate_key(KeyId=mrk["KeyId"], ReplicaRegion="eu-west-1")
blob = kms.encrypt(KeyId=mrk["KeyId"], Plaintext=b"everywhere")["CiphertextBlob"]
assert kms_eu.decrypt(CiphertextBlob=blob)["Plaintext"] == b"everywhere"

# The audit trail answers CloudTrail's LookupEvents.
ct = boto3.client("cloudtrail", endpoint_url=endpoint, region_name="us-east-1", config=cfg)
evs = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateAlias"}])["Events"]
assert evs and evs[0]["EventName"] == "CreateAlias", evs

# Key references of every form.
alias_arn = key["Arn"].replace(":key/" + kid, ":alias/boto3")
assert kms.encrypt(KeyId=alias_arn, Plaintext=b"a")["KeyId"] == key["Arn"]
assert kms.describe_key(KeyId=key["Arn"])["KeyMetadata"]["KeyId"] == kid
expect_error("TagException", kms.tag_resource, KeyId=kid, Tags=[{"TagKey": "aws:x", "TagValue": "y"}])
pol = '{"Version":"2012-10-17","Statement":[{"Sid":"root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}'
kms.put_key_policy(KeyId=kid, PolicyName="default", Policy=pol)
assert kms.get_key_policy(KeyId=kid, PolicyName="default")["Policy"] == pol
expect_error("MalformedPolicyDocumentException", kms.put_key_policy, KeyId=kid, PolicyName="default", Policy="{not json")
lu = kms.get_key_last_usage(KeyId=kid)
assert lu["KeyId"].endswith(kid), lu

print("BOTO3-OK")
