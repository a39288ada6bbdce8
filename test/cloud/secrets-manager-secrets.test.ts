import { beforeEach, describe, expect, it } from '@jest/globals';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  InvalidRequestException,
  ListSecretsCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { SecretsManagerSecrets } from '../../cloud/adapters/secrets-manager-secrets.js';
import { ErrorNames } from '../../lambdas/domain/errors.js';

const NAME = 'hostplane/dev/c1/acme/database';

const notFound = () => new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: {} });
const exists = () => new ResourceExistsException({ message: `The operation failed because the secret ${NAME} already exists.`, $metadata: {} });
const markedForDeletion = () =>
  new InvalidRequestException({ message: "You can't perform this operation on the secret because it was marked for deletion.", $metadata: {} });
const scheduledForDeletion = () =>
  new InvalidRequestException({
    message: "You can't create this secret because a secret with this name is already scheduled for deletion.",
    $metadata: {},
  });
const throttled = () =>
  new SecretsManagerServiceException({ name: 'ThrottlingException', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'Rate exceeded' });

describe('SecretsManagerSecrets', () => {
  const sm = mockClient(SecretsManagerClient);
  const waits: number[] = [];
  const secrets = new SecretsManagerSecrets({
    client: new SecretsManagerClient({ region: 'eu-west-1' }),
    kmsKeyId: 'alias/hostplane-secrets',
    tags: { 'hostplane:environment': 'dev', 'hostplane:tenant': 'acme' },
    sleep: async (ms) => {
      waits.push(ms);
    },
  });

  beforeEach(() => {
    sm.reset();
    waits.length = 0;
  });

  it('returns the stored value without creating anything when the secret exists', async () => {
    sm.on(GetSecretValueCommand).resolves({ Name: NAME, SecretString: '{"password":"stored"}' });

    const value = await secrets.getOrCreate(NAME, () => ({ password: 'new' }));

    expect(value).toEqual({ password: 'stored' });
    expect(sm).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: NAME });
    expect(sm).toHaveReceivedCommandTimes(CreateSecretCommand, 0);
  });

  it('creates the secret with its JSON value, KMS key and tags when it is not found', async () => {
    sm.on(GetSecretValueCommand).rejects(notFound());
    sm.on(CreateSecretCommand).resolves({ Name: NAME });

    const value = await secrets.getOrCreate(NAME, () => ({ password: 'first', username: 'acme' }));

    expect(value).toEqual({ password: 'first', username: 'acme' });
    expect(sm).toHaveReceivedCommandWith(CreateSecretCommand, {
      Name: NAME,
      SecretString: '{"password":"first","username":"acme"}',
      KmsKeyId: 'alias/hostplane-secrets',
      Tags: [
        { Key: 'hostplane:environment', Value: 'dev' },
        { Key: 'hostplane:tenant', Value: 'acme' },
      ],
    });
    expect(waits).toEqual([]);
  });

  it('returns the value a concurrent creator stored first when CreateSecret says it already exists', async () => {
    sm.on(GetSecretValueCommand)
      .rejectsOnce(notFound())
      .resolves({ Name: NAME, SecretString: '{"password":"winner"}' });
    sm.on(CreateSecretCommand).rejects(exists());
    let calls = 0;

    const value = await secrets.getOrCreate(NAME, () => ({ password: `loser-${++calls}` }));

    expect(value).toEqual({ password: 'winner' });
    expect(calls).toBe(1);
    expect(sm).toHaveReceivedCommandTimes(CreateSecretCommand, 1);
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
  });

  it('keeps reading after ResourceExists until the winner becomes visible (eventual consistency)', async () => {
    sm.on(GetSecretValueCommand)
      .rejectsOnce(notFound())
      .rejectsOnce(notFound())
      .resolves({ Name: NAME, SecretString: '{"password":"winner"}' });
    sm.on(CreateSecretCommand).rejects(exists());

    const value = await secrets.getOrCreate(NAME, () => ({ password: 'mine' }));

    expect(value).toEqual({ password: 'winner' });
    expect(sm).toHaveReceivedCommandTimes(CreateSecretCommand, 2);
    expect(waits).toEqual([250, 500]);
  });

  it('force-deletes a secret left scheduled for deletion and creates a fresh one, never restoring the old value', async () => {
    sm.on(GetSecretValueCommand).rejectsOnce(markedForDeletion()).rejects(notFound());
    sm.on(DeleteSecretCommand).resolves({ Name: NAME });
    sm.on(CreateSecretCommand).rejectsOnce(scheduledForDeletion()).resolves({ Name: NAME });

    const value = await secrets.getOrCreate(NAME, () => ({ password: 'fresh' }));

    expect(value).toEqual({ password: 'fresh' });
    expect(sm).toHaveReceivedCommandWith(DeleteSecretCommand, { SecretId: NAME, ForceDeleteWithoutRecovery: true });
    expect(sm).toHaveReceivedCommandTimes(DeleteSecretCommand, 1);
    expect(sm).toHaveReceivedCommandTimes(CreateSecretCommand, 2);
    expect(sm).toHaveReceivedCommandWith(CreateSecretCommand, { Name: NAME, SecretString: '{"password":"fresh"}' });
  });

  it('gives up with a transient error when the name stays scheduled for deletion', async () => {
    sm.on(GetSecretValueCommand).rejects(notFound());
    sm.on(CreateSecretCommand).rejects(scheduledForDeletion());
    sm.on(DeleteSecretCommand).resolves({ Name: NAME });

    await expect(secrets.getOrCreate(NAME, () => ({ password: 'p' }))).rejects.toMatchObject({ name: ErrorNames.transient });

    expect(sm).toHaveReceivedCommandTimes(CreateSecretCommand, 6);
    expect(sm).toHaveReceivedCommandTimes(DeleteSecretCommand, 1);
    expect(waits).toEqual([250, 500, 1000, 2000, 4000]);
  });

  it('turns throttling into a transient error and access denied into a permanent one', async () => {
    sm.on(GetSecretValueCommand).rejectsOnce(throttled()).rejects(
      new SecretsManagerServiceException({ name: 'AccessDeniedException', $fault: 'client', $metadata: { httpStatusCode: 400 }, message: 'no' }),
    );

    await expect(secrets.getOrCreate(NAME, () => ({ password: 'p' }))).rejects.toMatchObject({
      name: ErrorNames.transient,
      message: expect.stringContaining(`reading secret ${NAME}: ThrottlingException`),
    });
    await expect(secrets.get(NAME)).rejects.toMatchObject({ name: ErrorNames.permanent });
    expect(sm).toHaveReceivedCommandTimes(CreateSecretCommand, 0);
  });

  it('refuses to store a value that is not an object of strings', async () => {
    sm.on(GetSecretValueCommand).rejects(notFound());

    await expect(secrets.getOrCreate(NAME, () => ({ port: 5432 }) as unknown as Record<string, string>)).rejects.toThrow('object of string fields');
    expect(sm).toHaveReceivedCommandTimes(CreateSecretCommand, 0);
  });

  it('gets a secret, or undefined when it is not found or scheduled for deletion', async () => {
    sm.on(GetSecretValueCommand, { SecretId: NAME }).resolves({ SecretString: '{"password":"p"}' });
    sm.on(GetSecretValueCommand, { SecretId: 'hostplane/dev/c1/gone/database' }).rejects(notFound());
    sm.on(GetSecretValueCommand, { SecretId: 'hostplane/dev/c1/going/database' }).rejects(markedForDeletion());

    expect(await secrets.get(NAME)).toEqual({ password: 'p' });
    expect(await secrets.get('hostplane/dev/c1/gone/database')).toBeUndefined();
    expect(await secrets.get('hostplane/dev/c1/going/database')).toBeUndefined();
  });

  it('deletes without a recovery window and says whether the secret was there', async () => {
    sm.on(DescribeSecretCommand, { SecretId: NAME }).resolves({ Name: NAME });
    sm.on(DescribeSecretCommand, { SecretId: 'hostplane/dev/c1/gone/database' }).rejects(notFound());
    sm.on(DescribeSecretCommand, { SecretId: 'hostplane/dev/c1/going/database' }).resolves({ DeletedDate: new Date('2030-01-01') });
    sm.on(DeleteSecretCommand).resolves({});

    expect(await secrets.delete(NAME)).toBe(true);
    expect(await secrets.delete('hostplane/dev/c1/gone/database')).toBe(false);
    expect(await secrets.delete('hostplane/dev/c1/going/database')).toBe(false);

    expect(sm).toHaveReceivedCommandWith(DeleteSecretCommand, { SecretId: NAME, ForceDeleteWithoutRecovery: true });
    expect(sm).toHaveReceivedCommandWith(DeleteSecretCommand, { SecretId: 'hostplane/dev/c1/going/database', ForceDeleteWithoutRecovery: true });
    expect(sm).toHaveReceivedCommandTimes(DeleteSecretCommand, 2);
  });

  it('lists names by exact prefix across pages, sorted', async () => {
    sm.on(ListSecretsCommand, { NextToken: undefined }).resolves({
      SecretList: [{ Name: 'hostplane/dev/c1/acme/database' }, { Name: 'hostplane/dev/c1/acme2/cache' }],
      NextToken: 'page-2',
    });
    sm.on(ListSecretsCommand, { NextToken: 'page-2' }).resolves({
      SecretList: [{ Name: 'hostplane/dev/c1/acme/cache' }, { Name: 'hostplane/dev/c1/other/acme/cache' }],
    });

    expect(await secrets.list('hostplane/dev/c1/acme')).toEqual([
      'hostplane/dev/c1/acme/cache',
      'hostplane/dev/c1/acme/database',
      'hostplane/dev/c1/acme2/cache',
    ]);
    expect(sm).toHaveReceivedCommandWith(ListSecretsCommand, { Filters: [{ Key: 'name', Values: ['hostplane/dev/c1/acme'] }] });
    expect(sm).toHaveReceivedCommandWith(ListSecretsCommand, { NextToken: 'page-2' });
    expect(sm).toHaveReceivedCommandTimes(ListSecretsCommand, 2);
  });

  it('drops names the filter matched that do not start with the prefix', async () => {
    sm.on(ListSecretsCommand).resolves({ SecretList: [{ Name: 'hostplane/dev/c1/acme/cache' }, { Name: 'other/hostplane/dev/c1/acme/x' }] });

    expect(await secrets.list('hostplane/dev/c1/acme/')).toEqual(['hostplane/dev/c1/acme/cache']);
  });

  it('refuses names and prefixes that are not secret names before calling AWS', async () => {
    for (const name of ['', '../outside', 'a//b', 'a/', 'Upper/case', 'with space', '-dash-first']) {
      await expect(secrets.get(name)).rejects.toThrow(JSON.stringify(name));
      await expect(secrets.getOrCreate(name, () => ({ x: 'y' }))).rejects.toThrow(JSON.stringify(name));
      await expect(secrets.delete(name)).rejects.toThrow(JSON.stringify(name));
    }
    await expect(secrets.list('../')).rejects.toThrow('"../"');
    expect(sm.calls()).toHaveLength(0);
  });
});
