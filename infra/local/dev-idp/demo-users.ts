/** A person who can sign in to the dev IdP. Passwords are public on purpose: this is a local demo. */
export interface DemoUser {
  username: string;
  password: string;
  /** Stable opaque subject: the `sub` of every token issued for this user. Seeds refer to it. */
  sub: string;
  name: string;
  email: string;
  groups: string[];
}

export const ALICE_SUB = '7f3a9c1e-4b2d-4e6f-8a1b-2c3d4e5f6a7b';
export const BOB_SUB = 'b0b5e2d4-6c8a-4f1e-9d3b-5a7c9e1f3b2d';
/** The demo admin: a member of `keyvend-admins`, the group the local stack names in KEYVEND_ADMINS. */
export const CAROL_SUB = 'c4a01b7e-3d5f-4a8c-b2e6-9f1d3c5e7a90';

export const DEMO_USERS: readonly DemoUser[] = Object.freeze([
  Object.freeze({
    username: 'alice',
    password: 'alice-password',
    sub: ALICE_SUB,
    name: 'Alice Example',
    email: 'alice@example.com',
    groups: Object.freeze(['photo-uploaders', 'console-users']) as string[],
  }),
  Object.freeze({
    username: 'bob',
    password: 'bob-password',
    sub: BOB_SUB,
    name: 'Bob Example',
    email: 'bob@example.com',
    groups: Object.freeze(['photo-uploaders']) as string[],
  }),
  Object.freeze({
    username: 'carol',
    password: 'carol-password',
    sub: CAROL_SUB,
    name: 'Carol Example',
    email: 'carol@example.com',
    groups: Object.freeze(['keyvend-admins']) as string[],
  }),
]);

export function findDemoUserByUsername(username: string): DemoUser | undefined {
  return DEMO_USERS.find((user) => user.username === username);
}

export function findDemoUserBySub(sub: string): DemoUser | undefined {
  return DEMO_USERS.find((user) => user.sub === sub);
}
