//! `concord user` and `concord org`: bootstrap without SQL.

use std::io::BufRead;

use anyhow::{Context, bail};
use clap::Subcommand;
use concord_api::auth::passwords::{MIN_PASSWORD_CHARS, hash_password};
use concord_domain::access::Role;
use concord_domain::organisation::{NewOrganisation, OrganisationId, OrganisationInput};
use concord_store::{Actor, NewUser, Store};

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a user. The password is read from CONCORD_USER_PASSWORD, or else from the first
    /// line of standard input.
    Add {
        #[arg(long)]
        email: String,
        /// ADMIN, COORDINATOR, EDITOR or VIEWER.
        #[arg(long)]
        role: String,
        /// An organisation the user belongs to (repeat for several).
        #[arg(long = "organisation")]
        organisations: Vec<i64>,
    },
}

#[derive(Subcommand, Debug)]
pub enum OrgCommand {
    /// Register an organisation and print its id.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        acronym: Option<String>,
        /// IATI organisation identifier, such as GB-CHC-202918.
        #[arg(long)]
        iati_id: Option<String>,
        /// IATI OrganisationType code: 10 government, 21 international NGO, 22 national NGO, 40 multilateral...
        #[arg(long = "type")]
        organisation_type: String,
        /// LOCAL, NATIONAL, REGIONAL or INTERNATIONAL.
        #[arg(long)]
        level: String,
        /// ISO 3166-1 alpha-2.
        #[arg(long)]
        country: Option<String>,
    },
}

fn password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("CONCORD_USER_PASSWORD") {
        return Ok(p);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

pub async fn user(store: &Store, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            email,
            role,
            organisations,
        } => {
            let role = Role::parse("role", &role.to_ascii_uppercase())
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if !email.contains('@') {
                bail!("{email} is not an email address");
            }
            let password = password()?;
            if password.chars().count() < MIN_PASSWORD_CHARS {
                bail!("the password must be at least {MIN_PASSWORD_CHARS} characters");
            }
            let hash = hash_password(&password).map_err(|e| anyhow::anyhow!(e))?;
            let user = store
                .create_user(
                    &NewUser {
                        email,
                        password_hash: Some(hash),
                        role,
                        organisations: organisations.into_iter().map(OrganisationId).collect(),
                    },
                    &Actor::command("user add"),
                )
                .await?;
            println!("user {} added: {} ({})", user.id.0, user.email, user.role);
            Ok(())
        }
    }
}

pub async fn org(store: &Store, command: OrgCommand) -> anyhow::Result<()> {
    match command {
        OrgCommand::Add {
            name,
            acronym,
            iati_id,
            organisation_type,
            level,
            country,
        } => {
            let org = NewOrganisation::parse(&OrganisationInput {
                name,
                acronym,
                iati_identifier: iati_id,
                organisation_type,
                level: level.to_ascii_uppercase(),
                country,
            })
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            let created = store
                .create_organisation(&org, &Actor::command("org add"))
                .await?;
            println!("organisation {} added: {}", created.id.0, created.name);
            Ok(())
        }
    }
}
