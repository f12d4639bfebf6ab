/**
 * A wire-compatible IAM Identity Center identity store on 127.0.0.1 (the
 * AWS JSON 1.1 protocol the SDK speaks): GetUserId by email or external id,
 * ListGroupMembershipsForMember with pages, DescribeGroup. It holds users and
 * groups given at start and records every call.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { IdentitystoreClient } from '@aws-sdk/client-identitystore';

/** A user of the fake store. */
export interface StoreUser {
  userId: string;
  email: string;
  externalIds?: { issuer: string; id: string }[];
  groupIds: string[];
}

/** The request fields the fake reads. */
interface StoreInput {
  IdentityStoreId?: string;
  AlternateIdentifier?: {
    UniqueAttribute?: { AttributePath?: string; AttributeValue?: string };
    ExternalId?: { Issuer?: string; Id?: string };
  };
  MemberId?: { UserId?: string };
  NextToken?: string;
  GroupId?: string;
}

/** A running fake identity store. */
export interface FakeIdentityStore {
  url: string;
  client: IdentitystoreClient;
  /** Every call: the operation and its input. */
  calls: { operation: string; input: StoreInput }[];
  /** When set, every call fails with HTTP 500. */
  failing: boolean;
  close(): Promise<void>;
}

/** Starts the fake store holding `users` and `groups` (id -> display name). */
export async function startFakeIdentityStore(
  identityStoreId: string,
  users: StoreUser[],
  groups: Record<string, string>,
  pageSize = 2,
): Promise<FakeIdentityStore> {
  const calls: FakeIdentityStore['calls'] = [];
  const state = { failing: false };
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as StoreInput;
    const operation = String(req.headers['x-amz-target'] ?? '').replace('AWSIdentityStore.', '');
    calls.push({ operation, input });
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify(body));
    };
    const notFound = (what: string) =>
      reply(400, { __type: 'ResourceNotFoundException', Message: `${what} not found` });
    if (state.failing) return reply(500, { __type: 'InternalServerException', Message: 'the store is down' });
    if (input.IdentityStoreId !== identityStoreId) return notFound('identity store');
    if (operation === 'GetUserId') {
      const unique = input.AlternateIdentifier?.UniqueAttribute;
      const external = input.AlternateIdentifier?.ExternalId;
      const user = users.find((u) =>
        unique
          ? unique.AttributePath === 'emails.value' && u.email === unique.AttributeValue
          : u.externalIds?.some((e) => e.issuer === external?.Issuer && e.id === external?.Id),
      );
      return user ? reply(200, { IdentityStoreId: identityStoreId, UserId: user.userId }) : notFound('user');
    }
    if (operation === 'ListGroupMembershipsForMember') {
      const user = users.find((u) => u.userId === input.MemberId?.UserId);
      if (!user) return notFound('user');
      const start = Number(input.NextToken ?? 0);
      const page = user.groupIds.slice(start, start + pageSize);
      const next = start + pageSize < user.groupIds.length ? String(start + pageSize) : undefined;
      return reply(200, {
        GroupMemberships: page.map((GroupId, i) => ({
          IdentityStoreId: identityStoreId,
          MembershipId: `m-${start + i}`,
          GroupId,
          MemberId: { UserId: user.userId },
        })),
        ...(next ? { NextToken: next } : {}),
      });
    }
    if (operation === 'DescribeGroup') {
      const name = groups[input.GroupId ?? ''];
      return name === undefined
        ? notFound('group')
        : reply(200, { IdentityStoreId: identityStoreId, GroupId: input.GroupId, DisplayName: name });
    }
    reply(400, { __type: 'ValidationException', Message: `unknown operation ${operation}` });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new IdentitystoreClient({
    region: 'eu-west-1',
    endpoint: url,
    credentials: { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake' },
    maxAttempts: 1,
  });
  return {
    url,
    client,
    calls,
    get failing() {
      return state.failing;
    },
    set failing(value: boolean) {
      state.failing = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        client.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
