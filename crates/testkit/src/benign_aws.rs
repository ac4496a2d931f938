//! Benign AWS activity: Entra users federating into AWS with `AssumeRoleWithSAML` (session name
//! = UPN) and browsing the console, IAM console users, GitHub Actions deployments through web
//! identity federation, developers' CLI sessions, and applications on EC2 using S3.

use std::borrow::Cow;

use crate::aws;
use crate::benign::Benign;
use crate::catalog::{self, CITIES};
use crate::cloudtrail::Identity;
use crate::event::Payload;
use crate::json::ip_text;
use crate::population::{ip_in, IamKind};
use crate::rng::mix64;
use crate::signin::{self, SignInKind};
use crate::time::{HOUR, MIN, SEC};

impl Benign<'_> {
    /// Entra sign-in to the AWS app, `AssumeRoleWithSAML` (session name = UPN), console
    /// sign-in, then console browsing with the temporary key.
    pub(crate) fn saml_session(&mut self, t: i64) -> bool {
        let pop = self.pop;
        if self.aws_users.is_empty() {
            return false;
        }
        let u = self.aws_users[self.rng.index(self.aws_users.len())];
        let Some(role) = pop.users[u].aws_role else {
            return false;
        };
        if !pop.available(u, t) {
            return false;
        }
        let w = pop.whereabouts(u, t);
        let user = &pop.users[u];
        let mut s = signin::member(
            &mut self.rng,
            pop,
            u,
            t,
            SignInKind::Interactive,
            w.ip,
            w.city,
            w.via,
        );
        s.app_id = Cow::Owned(pop.aws_app_id.to_string());
        s.app_name = Cow::Borrowed("AWS IAM Identity Center (successor to AWS Single Sign-On)");
        s.resource = "AWS IAM Identity Center (successor to AWS Single Sign-On)";
        s.client_app = "Browser";
        s.ua = catalog::DEVICES[user.device].ua;
        let st = s.time;
        self.remember(u, w.ip, st);
        let tag = self.listed_country_tag(&w);
        self.emit(Payload::SignIn(Box::new(s)), tag);
        let ip = ip_text(&w.ip);
        let browser = catalog::DEVICES[user.device].ua;
        let (rec, key) = aws::assume_role_with_saml(
            &mut self.rng,
            pop,
            st + 4 * SEC,
            &user.upn,
            role,
            &ip,
            browser,
        );
        let created = rec.time;
        self.emit(Payload::Ct(Box::new(rec)), None);
        let account = pop.saml_roles[role].account;
        let id = aws::saml_session_identity(pop, role, &user.upn, &key, created);
        let mut login_id = id.clone();
        if let Identity::AssumedRole { key, .. } = &mut login_id {
            *key = None;
        }
        let login = aws::console_login(
            &mut self.rng,
            pop,
            created + 2 * SEC,
            login_id,
            account,
            &ip,
            browser,
            false,
            true,
        );
        self.emit(Payload::Ct(Box::new(login)), None);
        let region = if CITIES[user.home].country == "US" {
            "us-east-1"
        } else {
            "eu-west-1"
        };
        if self.rng.chance(0.6) {
            self.console_burst(created + 10 * SEC, id, account, &ip, region);
        } else {
            let mut at = created + 12 * SEC;
            for api in [
                "ListBuckets",
                "GetBucketLocation",
                "ListObjects",
                "GetBucketPolicy",
            ] {
                let mut r = aws::call(
                    &mut self.rng,
                    pop,
                    at,
                    api,
                    aws::region_for(api, region),
                    &ip,
                    Cow::Borrowed(catalog::CONSOLE_S3_UA),
                    id.clone(),
                    account,
                    "reports",
                );
                r.console = true;
                self.emit(Payload::Ct(Box::new(r)), None);
                at += self.rng.range(2, 20) * SEC;
            }
        }
        true
    }

    /// EC2 console page loads: four or more distinct Describe* calls inside two minutes through
    /// `console.ec2.amazonaws.com` (tagged as the recon-burst false positive).
    fn console_burst(
        &mut self,
        t: i64,
        id: Identity,
        account: usize,
        ip: &str,
        region: &'static str,
    ) {
        let n = 6 + self.rng.below(7) as usize;
        let mut at = t;
        for i in 0..n {
            let api = if i < 4 {
                [
                    "DescribeInstances",
                    "DescribeSecurityGroups",
                    "DescribeVolumes",
                    "DescribeVpcs",
                ][i]
            } else {
                *self.rng.pick(catalog::EC2_CONSOLE_CALLS)
            };
            let mut r = aws::call(
                &mut self.rng,
                self.pop,
                at,
                api,
                region,
                ip,
                Cow::Borrowed(catalog::CONSOLE_EC2_UA),
                id.clone(),
                account,
                "",
            );
            r.console = true;
            let tag = self.tag(self.fp.console_burst, "console_describe_burst");
            self.emit(Payload::Ct(Box::new(r)), tag);
            at += self.rng.range(1, 9) * SEC;
        }
    }

    /// The index of a random IAM user of `kind` (the population always has some of each).
    fn pick_iam_user(&mut self, kind: IamKind) -> usize {
        let users = &self.pop.iam_users;
        let of_kind: Vec<usize> = (0..users.len())
            .filter(|&i| users[i].kind == kind)
            .collect();
        of_kind[self.rng.index(of_kind.len())]
    }

    /// An IAM console user (like `pedro`): console sign-in, then an EC2 console burst.
    pub(crate) fn iam_console(&mut self, t: i64) {
        let pop = self.pop;
        let i = self.pick_iam_user(IamKind::Console);
        let u = &pop.iam_users[i];
        let ip = ip_text(&u.ip);
        let browser = catalog::DEVICES[1].ua;
        let login = aws::console_login(
            &mut self.rng,
            pop,
            t,
            aws::iam_identity(pop, i, None, None),
            u.account,
            &ip,
            browser,
            true,
            false,
        );
        self.emit(Payload::Ct(Box::new(login)), None);
        let key = crate::rng::aws_key(&mut self.rng, "ASIA");
        let id = aws::iam_identity(pop, i, Some(key), Some((t, true)));
        self.console_burst(t + 5 * SEC, id, u.account, &ip, "us-east-1");
    }

    /// A GitHub Actions deployment: web-identity federation, then a few deployment calls.
    pub(crate) fn ci_run(&mut self, t: i64) {
        let pop = self.pop;
        let account = self.rng.index(pop.aws_accounts.len());
        let repo = *self.rng.pick(pop.ci_repos);
        let ip = ip_text(&ip_in(catalog::ASHBURN, self.rng.u64(), false));
        let (rec, key) = aws::assume_role_web_identity(&mut self.rng, pop, t, account, repo, &ip);
        let region = rec.region;
        self.emit(Payload::Ct(Box::new(rec)), None);
        let id = aws::ci_identity(pop, account, &key, t);
        let target = repo.rsplit('/').next().unwrap_or("app");
        let steps: &[(&'static str, &'static str)] = match self.rng.below(3) {
            0 => &[
                ("GetCallerIdentity", catalog::AWS_CLI_UA),
                ("GetAuthorizationToken", catalog::SDK_GO_UA),
                ("BatchCheckLayerAvailability", catalog::SDK_GO_UA),
                ("InitiateLayerUpload", catalog::SDK_GO_UA),
                ("PutImage", catalog::SDK_GO_UA),
            ],
            1 => &[
                ("PutObject", catalog::AWS_CLI_UA),
                ("DescribeStacks", catalog::AWS_CLI_UA),
                ("CreateChangeSet", catalog::AWS_CLI_UA),
                ("ExecuteChangeSet", catalog::AWS_CLI_UA),
                ("DescribeStackEvents", catalog::AWS_CLI_UA),
            ],
            _ => &[
                ("GetCallerIdentity", catalog::AWS_CLI_UA),
                ("PutObject", catalog::AWS_CLI_UA),
                ("UpdateFunctionCode20150331v2", catalog::AWS_CLI_UA),
                ("GetFunction", catalog::AWS_CLI_UA),
            ],
        };
        let mut at = t + 3 * SEC;
        for (api, ua) in steps {
            let r = aws::call(
                &mut self.rng,
                pop,
                at,
                api,
                aws::region_for(api, region),
                &ip,
                Cow::Borrowed(ua),
                id.clone(),
                account,
                target,
            );
            self.emit(Payload::Ct(Box::new(r)), None);
            at += self.rng.range(2, 40) * SEC;
        }
    }

    /// A developer's CLI session with a long-term key: at most one reconnaissance API, and
    /// none if that key made one in the last ten minutes.
    pub(crate) fn dev_cli(&mut self, t: i64) {
        let pop = self.pop;
        let i = self.pick_iam_user(IamKind::Cli);
        let u = &pop.iam_users[i];
        let ip = ip_text(&u.ip);
        let id = aws::iam_identity(pop, i, Some(u.key.clone()), None);
        let region = pop.aws_regions[self.rng.index(2)];
        let n = 1 + self.rng.below(3);
        let mut at = t;
        for k in 0..n {
            let recon_ok = k == 0 && at - self.cli_recon[i] > 10 * MIN;
            let api = if recon_ok && self.rng.chance(0.5) {
                self.cli_recon[i] = at;
                *self
                    .rng
                    .pick(&["ListBuckets", "GetCallerIdentity", "DescribeInstances"])
            } else {
                *self.rng.pick(&[
                    "GetObject",
                    "PutObject",
                    "ListObjects",
                    "FilterLogEvents",
                    "GetParameter",
                    "Invoke",
                ])
            };
            let mut r = aws::call(
                &mut self.rng,
                pop,
                at,
                api,
                aws::region_for(api, region),
                &ip,
                Cow::Borrowed(catalog::AWS_CLI_UA),
                id.clone(),
                u.account,
                "reports",
            );
            if api == "GetParameter" && self.rng.chance(0.2) {
                r.error = Some(("AccessDenied", format!("User: arn:aws:iam::{}:user/{} is not authorized to perform: ssm:GetParameter", pop.aws_accounts[u.account].id, u.name)));
            }
            self.emit(Payload::Ct(Box::new(r)), None);
            at += self.rng.range(5, 50) * SEC;
        }
    }

    /// An application on EC2 reading and writing S3 objects with its instance-role key.
    pub(crate) fn app_data(&mut self, t: i64) {
        let pop = self.pop;
        let account = self.rng.index(pop.aws_accounts.len());
        let inst = self.rng.below(24);
        let ip = ip_text(&ip_in(catalog::ASHBURN, 0x5eed ^ inst, false));
        let session = format!("i-0{:016x}", mix64(inst) >> 4);
        let h = mix64(inst ^ (t / HOUR) as u64 ^ (account as u64) << 40);
        let key: String = std::iter::once("ASIA".to_string())
            .chain((0..16).map(|i| {
                char::from(crate::rng::AWS_KEY_ALPHABET[((h >> (i * 4)) & 31) as usize]).to_string()
            }))
            .collect();
        let id = Identity::AssumedRole {
            account,
            role: "app-server-role".into(),
            role_id: pop.app_role_ids[account].clone(),
            session,
            key: Some(key),
            creation: t - t % HOUR,
            mfa: false,
            web_identity: None,
        };
        let region = pop.aws_regions[(inst % 3) as usize];
        let ua = if inst.is_multiple_of(2) {
            catalog::SDK_JAVA_UA
        } else {
            catalog::BOTO3_UA
        };
        for k in 0..1 + self.rng.below(3) as i64 {
            let api = if self.rng.chance(0.6) {
                "GetObject"
            } else {
                "PutObject"
            };
            let r = aws::call(
                &mut self.rng,
                pop,
                t + k * SEC,
                api,
                region,
                &ip,
                Cow::Borrowed(ua),
                id.clone(),
                account,
                "assets",
            );
            self.emit(Payload::Ct(Box::new(r)), None);
        }
    }
}
